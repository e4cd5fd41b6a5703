/**
 * A read-only view of a home's `run/`: whether a daemon runs on it and where it listens.
 * The daemon lock (`run/daemon.lock`, an owner record with a heartbeat: `fsutil/lock.ts`)
 * says whether a daemon runs and which one; the pid file says where it listens, and counts
 * only while it names the lock's owner. Nothing here writes or removes a file, so `status`,
 * `doctor` and a restore can ask at any moment without racing a daemon that is starting
 * (the daemon owns these files: `daemon/pidfile.ts`).
 */
import { readFileSync } from 'node:fs';
import type { DaemonStatus } from '../api/daemon.js';
import { inspectLockSync, type LockState } from '../fsutil/lock.js';
import type { HomeLayout } from './layout.js';

export interface PidFileContent {
  pid: number;
  address: string;
  started_at: string;
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

/** The daemon lock as it is now (undefined: none); `judgment.local` says whether we can signal it. */
export function readDaemonLock(home: HomeLayout): LockState | undefined {
  try {
    return inspectLockSync(home.daemonLock);
  } catch {
    return undefined;
  }
}

/**
 * Whether a daemon runs on this home, and where. Read-only: it never removes anything, so a
 * restore or a status check cannot race a starting daemon. A daemon that holds the lock but
 * has not written its pid file yet (still starting) counts as running, without an address.
 */
export function readDaemonStatus(home: HomeLayout): DaemonStatus {
  const lock = readDaemonLock(home);
  if (!lock || lock.judgment.state !== 'alive' || lock.record.pid === undefined) return { running: false };
  const status: DaemonStatus = { running: true, pid: lock.record.pid };
  if (!lock.judgment.local) {
    status.host = lock.record.host ?? 'unknown';
    status.local = false;
  }
  const pid = readPidFile(home);
  if (pid?.pid === lock.record.pid) Object.assign(status, { address: pid.address, started_at: pid.started_at });
  return status;
}
