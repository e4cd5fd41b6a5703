/**
 * One backup operation at a time, across processes (CLI and daemon): a lock file
 * `<storageDir>/.hoziron-backup.lock` holding `{pid, operation, started_at, token}`.
 *
 * The lock is made complete under a temporary name and hard-linked into place, so it exists
 * only with its whole content (link fails if a lock is already there). A lock whose pid is
 * dead is taken over: it is renamed aside (atomic, so only one taker wins), checked to be the
 * very lock judged stale, and removed. Crash safety: a process killed while holding the lock
 * leaves a lock naming a dead pid, which the next operation takes over, so a crash never
 * blocks scheduled backups. Release removes the lock only if it is still ours.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { HozironError, errnoCode } from '../errors.js';
import { ensureDir } from '../fsutil/atomic.js';
import { isProcessAlive } from '../fsutil/process.js';
import { tempPathIn } from '../fsutil/temp.js';

const LOCK_NAME = '.hoziron-backup.lock';

interface LockContent {
  pid: number;
  operation: string;
  started_at: string;
  token: string;
}

function lockPath(storageDir: string): string {
  return join(storageDir, LOCK_NAME);
}

async function readLock(path: string): Promise<LockContent | null | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<LockContent>;
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0) return v as LockContent;
  } catch {
    /* unreadable: treated as stale below */
  }
  return null;
}

function heldError(path: string, held: LockContent): HozironError {
  return new HozironError(
    'conflict',
    `another backup operation is running: ${held.operation} (pid ${held.pid}, started ${held.started_at})`,
    `wait for it to finish; the lock is ${path}`,
  );
}

/**
 * Remove the lock judged stale (`held`, null when unreadable). It is renamed aside first
 * (atomic: one taker wins) and checked to be that very lock; a live lock that another
 * process put in its place meanwhile is put back and reported as held.
 */
async function removeStale(storageDir: string, held: LockContent | null): Promise<void> {
  const path = lockPath(storageDir);
  const aside = tempPathIn(storageDir, 'stale-lock');
  try {
    await fs.rename(path, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readLock(aside);
  if (moved && (!held || moved.token !== held.token) && isProcessAlive(moved.pid)) {
    await fs.link(aside, path).catch(() => undefined);
    await fs.rm(aside, { force: true });
    throw heldError(path, moved);
  }
  await fs.rm(aside, { force: true });
}

/** Remove the lock of `storageDir` if its owner is dead (listing tidies with this). */
export async function clearStaleLock(storageDir: string): Promise<void> {
  const held = await readLock(lockPath(storageDir)).catch(() => undefined);
  if (held === undefined || (held && isProcessAlive(held.pid))) return;
  await removeStale(storageDir, held).catch(() => undefined);
}

async function acquire(storageDir: string, operation: string): Promise<LockContent> {
  await ensureDir(storageDir, 0o700);
  const path = lockPath(storageDir);
  const mine: LockContent = { pid: process.pid, operation, started_at: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const tmp = tempPathIn(storageDir, 'lock');
  await fs.writeFile(tmp, `${JSON.stringify(mine)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fs.link(tmp, path);
        return mine;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const held = await readLock(path);
      if (held === undefined) continue; // released meanwhile
      if (held && isProcessAlive(held.pid)) throw heldError(path, held);
      await removeStale(storageDir, held);
    }
    throw new HozironError('conflict', `could not take the backup lock ${path}`, 'try again');
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function release(storageDir: string, mine: LockContent): Promise<void> {
  const path = lockPath(storageDir);
  const held = await readLock(path).catch(() => undefined);
  if (held && held.token === mine.token) await fs.rm(path, { force: true });
}

/** Whether a live process holds the backup lock of `storageDir` right now. */
export async function isBackupLockHeld(storageDir: string): Promise<boolean> {
  const held = await readLock(lockPath(storageDir)).catch(() => undefined);
  return held !== undefined && held !== null && isProcessAlive(held.pid);
}

/** Run `fn` holding the backup lock of `storageDir`; a live holder → HozironError('conflict'). */
export async function withBackupLock<T>(storageDir: string, operation: string, fn: () => Promise<T>): Promise<T> {
  const mine = await acquire(storageDir, operation);
  try {
    return await fn();
  } finally {
    await release(storageDir, mine);
  }
}
