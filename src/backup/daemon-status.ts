/**
 * Whether a daemon runs on this home (pid file + liveness). Kept tiny so that it can defer
 * to the daemon's own `readDaemonStatus` once that lands.
 */
import { readFileSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import type { HomeLayout } from '../home/layout.js';

export function daemonRunning(home: HomeLayout): { running: boolean; pid?: number } {
  for (const file of [home.pidFile, home.daemonLock]) {
    let pid: unknown;
    try {
      pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    } catch {
      continue;
    }
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 0);
      return { running: true, pid };
    } catch (err) {
      if (errnoCode(err) === 'EPERM') return { running: true, pid };
    }
  }
  return { running: false };
}
