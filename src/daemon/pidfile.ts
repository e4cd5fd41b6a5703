/**
 * The daemon's runtime files in `run/`: the daemon lock (`daemon.lock`, the one lock
 * primitive of `fsutil/lock.ts`: an owner record with host, boot id, PID namespace, pid,
 * start time and a heartbeat) that makes a second daemon on the same home refuse to start,
 * and the pid file (`hoziron.pid`, written atomically once the server listens) that tells
 * `status`, `stop`, `health` and restore where the daemon listens.
 * Crash safety: a daemon killed at any line leaves at most a lock and a pid file; the lock is
 * judged stale (its process gone from this host and namespace, or its heartbeat older than
 * the limit) and taken over by the next `start`, which removes the pid file too. Neither
 * file is ever archived (`run/` is excluded from backups).
 */
import { rmSync } from 'node:fs';
import { HozironError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../fsutil/atomic.js';
import { acquireLock, type HeldLock, type LockState } from '../fsutil/lock.js';
import { describeOwner } from '../fsutil/owner.js';
import { removeLeftovers } from '../fsutil/temp.js';
import type { HomeLayout } from '../home/layout.js';
import { readPidFile, type PidFileContent } from '../home/run.js';

/** The daemon lock this process holds, by lock path (one per home it serves). */
const held = new Map<string, HeldLock>();

/** Take the daemon lock of this home or throw `daemon_running`; a stale one is taken over. */
export async function acquireDaemonLock(home: HomeLayout): Promise<() => void> {
  await ensureDir(home.runDir, 0o700);
  await removeLeftovers(home.runDir); // e.g. a lock left aside by a taker that was killed
  const runningError = (s: LockState) => {
    const where = readPidFile(home);
    const address = where && where.pid === s.record.pid ? `, ${where.address}` : '';
    const elsewhere = s.judgment.local ? '' : ` (${s.judgment.reason})`;
    return new HozironError(
      'daemon_running',
      `a Hoziron daemon already runs on ${home.root} (${describeOwner(s.record)}${address})${elsewhere}`,
      'stop it, or use another home',
      { remedy: 'daemon_owns_home' },
    );
  };
  const lock = await acquireLock(home.daemonLock, 'daemon', runningError);
  held.set(home.daemonLock, lock);
  // We own the lock: any pid file left is a dead daemon's.
  rmSync(home.pidFile, { force: true });
  return () => releaseDaemonLock(home);
}

/** Remove pid file and lock, but only while they are ours. */
export function releaseDaemonLock(home: HomeLayout): void {
  const lock = held.get(home.daemonLock);
  if (!lock) return;
  if (readPidFile(home)?.pid === process.pid) rmSync(home.pidFile, { force: true });
  lock.releaseSync();
  held.delete(home.daemonLock);
}

/** Publish where the daemon listens (atomically: readers see the old file or the new one). */
export async function writePidFile(home: HomeLayout, content: PidFileContent): Promise<void> {
  await writeFileAtomic(home.pidFile, `${JSON.stringify(content)}\n`, { mode: 0o600 });
}
