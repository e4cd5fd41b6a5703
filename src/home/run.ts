/**
 * A read-only view of a home's `run/`: whether a daemon runs on it and where it listens.
 * Nothing here writes or removes a file, so `status`, `doctor` and a restore can ask at any
 * moment without racing a daemon that is starting (the daemon owns these files:
 * `daemon/pidfile.ts`).
 */
import { readFileSync } from 'node:fs';
import type { DaemonStatus } from '../api/daemon.js';
import { isProcessAlive } from '../fsutil/process.js';
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

export function lockOwner(home: HomeLayout): number | undefined {
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
  if (pid && isProcessAlive(pid.pid)) return { running: true, pid: pid.pid, address: pid.address, started_at: pid.started_at };
  const owner = lockOwner(home);
  if (owner !== undefined && isProcessAlive(owner)) return { running: true, pid: owner };
  return { running: false };
}
