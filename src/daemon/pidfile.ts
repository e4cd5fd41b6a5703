/**
 * The daemon's runtime files in `run/`: an exclusive lock (`daemon.lock`, created with
 * O_EXCL and holding the owner's pid) that makes a second daemon on the same home refuse to
 * start, and the pid file (`hoziron.pid`, written atomically once the server listens) that
 * tells `status`, `stop`, `health` and restore where the daemon is.
 * Crash safety: a daemon killed at any line leaves at most a lock and a pid file naming a
 * dead pid; both are recognised as stale (the pid no longer runs) and taken over by the next
 * `start`. Neither file is ever archived (`run/` is excluded from backups).
 */
import { closeSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { HozironError, errnoCode } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../fsutil/atomic.js';
import { isProcessAlive } from '../fsutil/process.js';
import type { HomeLayout } from '../home/layout.js';
import { lockOwner, readPidFile, type PidFileContent } from '../home/run.js';

/**
 * Take the daemon lock of this home or throw `daemon_running`. A lock whose owner is dead
 * (or that holds no readable pid and is older than a few seconds: a crash between create and
 * write) is stale: it is moved aside under a unique name (so two starters cannot both remove
 * a fresh lock) and the O_EXCL create is retried. A stale pid file is removed here too.
 */
export async function acquireDaemonLock(home: HomeLayout): Promise<() => void> {
  await ensureDir(home.runDir, 0o700);
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(home.daemonLock, 'wx', 0o600);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw new HozironError('io', `cannot create ${home.daemonLock}: ${(err as Error).message}`);
      const owner = lockOwner(home);
      if (owner !== undefined && isProcessAlive(owner) && owner !== process.pid) {
        const where = readPidFile(home);
        throw new HozironError(
          'daemon_running',
          `a Hoziron daemon already runs on ${home.root} (pid ${owner}${where?.pid === owner ? `, ${where.address}` : ''})`,
          'stop it, or use another home',
          { remedy: 'daemon_owns_home' },
        );
      }
      if (owner === undefined) {
        let age = Infinity;
        try {
          age = Date.now() - statSync(home.daemonLock).mtimeMs;
        } catch {
          /* vanished meanwhile: retry */
        }
        if (age < 5000) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
      }
      const aside = `${home.daemonLock}.stale-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(home.daemonLock, aside);
        rmSync(aside, { force: true });
      } catch {
        /* someone else moved it first: retry */
      }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, started_at: new Date().toISOString() }));
    } finally {
      closeSync(fd);
    }
    // We own the lock: any pid file left is a dead daemon's.
    rmSync(home.pidFile, { force: true });
    return () => releaseDaemonLock(home);
  }
  throw new HozironError('conflict', `cannot take the daemon lock ${home.daemonLock}`, 'retry, or remove it if no Hoziron process runs');
}

/** Remove pid file and lock, but only while they are ours. */
export function releaseDaemonLock(home: HomeLayout): void {
  if (readPidFile(home)?.pid === process.pid) rmSync(home.pidFile, { force: true });
  if (lockOwner(home) === process.pid) {
    try {
      unlinkSync(home.daemonLock);
    } catch {
      /* already gone */
    }
  }
}

/** Publish where the daemon listens (atomically: readers see the old file or the new one). */
export async function writePidFile(home: HomeLayout, content: PidFileContent): Promise<void> {
  await writeFileAtomic(home.pidFile, `${JSON.stringify(content)}\n`, { mode: 0o600 });
}
