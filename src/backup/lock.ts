/**
 * One backup operation at a time, across processes, containers and pods sharing the storage
 * directory: the lock file `<storageDir>/.hoziron-backup.lock` (`fsutil/lock.ts`: an owner
 * record with host, boot id, PID namespace, pid and start time, and a heartbeat). Crash
 * safety: a process killed while holding it leaves a lock that the next operation takes
 * over once it is judged stale (its process gone from this host and namespace, or its
 * heartbeat older than the limit), so a crash never blocks scheduled backups for long.
 */
import { join } from 'node:path';
import { HozironError, withIoContext } from '../errors.js';
import { ensureDir } from '../fsutil/atomic.js';
import { acquireLock, breakLock, inspectLock, type LockState } from '../fsutil/lock.js';
import { describeOwner } from '../fsutil/owner.js';

const LOCK_NAME = '.hoziron-backup.lock';
/** The operation of a restore's safety-backup finisher (safety-point.ts), which others wait for. */
export const SAFETY_OPERATION = 'safety backup';
const SAFETY_WAIT_MS = 200;

export function backupLockPath(storageDir: string): string {
  return join(storageDir, LOCK_NAME);
}

function heldError(s: LockState): HozironError {
  const local = s.judgment.local ? '' : `, ${s.judgment.reason}`;
  return new HozironError(
    'conflict',
    `another backup operation is running: ${s.record.operation ?? 'unknown'} (${describeOwner(s.record)}${local})`,
    `wait for it to finish; \`hoziron doctor\` shows the lock ${s.path} and how to clear it`,
  );
}

/** Remove the lock of `storageDir` if it is judged stale (listing tidies with this). */
export async function clearStaleLock(storageDir: string): Promise<void> {
  const s = await inspectLock(backupLockPath(storageDir)).catch(() => undefined);
  if (s?.judgment.state === 'stale') await breakLock(s.path).catch(() => undefined);
}

/** Whether an owner judged alive holds the backup lock of `storageDir` right now. */
export async function isBackupLockHeld(storageDir: string): Promise<boolean> {
  const s = await inspectLock(backupLockPath(storageDir)).catch(() => undefined);
  return s?.judgment.state === 'alive';
}

/**
 * Take the lock; while a live safety-backup finisher holds it, wait for it (it is finishing
 * the previous restore's safety point, seconds of work, and must not be refused into a loss).
 */
async function acquireBackupLock(storageDir: string, operation: string) {
  for (;;) {
    try {
      return await acquireLock(backupLockPath(storageDir), operation, heldError);
    } catch (err) {
      if (operation === SAFETY_OPERATION || !(err instanceof HozironError && err.code === 'conflict')) throw err;
      const s = await inspectLock(backupLockPath(storageDir)).catch(() => undefined);
      if (s === undefined) continue; // released since: try again
      if (s.record.operation !== SAFETY_OPERATION || s.judgment.state !== 'alive') throw err;
      await new Promise((r) => setTimeout(r, SAFETY_WAIT_MS));
    }
  }
}

/**
 * Run `fn` holding the backup lock of `storageDir`; a live holder → HozironError('conflict'),
 * except a safety-backup finisher, which is waited for.
 */
export async function withBackupLock<T>(storageDir: string, operation: string, fn: () => Promise<T>): Promise<T> {
  // A raw errno error (a full or read-only storage) leaves here naming the storage, not bare.
  return withIoContext(storageDir, async () => {
    await ensureDir(storageDir, 0o700);
    const lock = await acquireBackupLock(storageDir, operation);
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  });
}
