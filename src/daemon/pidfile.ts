/**
 * The daemon's runtime files in `run/`: an exclusive lock (`daemon.lock`, created with
 * O_EXCL and holding the owner's pid) that makes a second daemon on the same home refuse to
 * start, and the pid file (`hoziron.pid`, written atomically once the server listens) that
 * tells `status`, `stop`, `health` and restore where the daemon is.
 * Crash safety: a daemon killed at any line leaves at most a lock and a pid file naming a
 * dead pid; both are recognised as stale (the pid no longer runs) and taken over by the next
 * `start`. Neither file is ever archived (`run/` is excluded from backups).
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { DaemonStatus } from '../api/daemon.js';
import { HozironError, errnoCode } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../home/atomic.js';
import type { HomeLayout } from '../home/layout.js';

export interface PidFileContent {
  pid: number;
  address: string;
  started_at: string;
}

/** True when a process with this pid exists (EPERM means it exists but is not ours). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function readPidFile(home: HomeLayout): PidFileContent | undefined {
  const doc = readJson(home.pidFile) as Partial<PidFileContent> | undefined;
  if (!doc || typeof doc.pid !== 'number' || typeof doc.address !== 'string' || typeof doc.started_at !== 'string') {
    return undefined;
  }
  return { pid: doc.pid, address: doc.address, started_at: doc.started_at };
}

function lockOwner(home: HomeLayout): number | undefined {
  const doc = readJson(home.daemonLock) as { pid?: unknown } | undefined;
  return typeof doc?.pid === 'number' ? doc.pid : undefined;
}

/**
 * Whether a daemon runs on this home, and where. Read-only: it never removes anything, so a
 * restore or a status check cannot race a starting daemon. A daemon that holds the lock but
 * has not written its pid file yet (still starting) counts as running, without an address.
 */
export function readDaemonStatus(home: HomeLayout): DaemonStatus {
  const pid = readPidFile(home);
  if (pid && isAlive(pid.pid)) return { running: true, pid: pid.pid, address: pid.address, started_at: pid.started_at };
  const owner = lockOwner(home);
  if (owner !== undefined && isAlive(owner)) return { running: true, pid: owner };
  return { running: false };
}

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
      if (owner !== undefined && isAlive(owner) && owner !== process.pid) {
        const where = readPidFile(home);
        throw new HozironError(
          'daemon_running',
          `a Hoziron daemon already runs on ${home.root} (pid ${owner}${where?.pid === owner ? `, ${where.address}` : ''})`,
          'stop it with `hoziron stop`, or use another --home',
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
  throw new HozironError('conflict', `cannot take the daemon lock ${home.daemonLock}`, 'retry, or remove it if no hoziron process runs');
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

export async function removePidFile(home: HomeLayout): Promise<void> {
  if (readPidFile(home)?.pid === process.pid) await fs.rm(home.pidFile, { force: true });
}
