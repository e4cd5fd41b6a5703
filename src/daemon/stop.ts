/**
 * `hoziron stop`: SIGTERM to the pid in the pid file, then wait until that process is gone.
 * The daemon's own shutdown does the work (finish requests, shutdown backup, close the
 * databases, remove its files); this side only signals and waits, so it is safe to run twice.
 */
import { HozironError } from '../errors.js';
import type { HomeLayout } from '../home/layout.js';
import { isProcessAlive } from '../fsutil/process.js';
import { readDaemonStatus } from '../home/run.js';

export interface StopResult {
  was_running: boolean;
  pid?: number;
  waited_ms?: number;
}

export async function stopDaemon(home: HomeLayout, timeoutMs: number): Promise<StopResult> {
  const status = readDaemonStatus(home);
  if (!status.running || status.pid === undefined) return { was_running: false };
  const pid = status.pid;
  const started = Date.now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if (!isProcessAlive(pid)) return { was_running: false };
    throw new HozironError('io', `cannot signal the daemon (pid ${pid}): ${(err as Error).message}`);
  }
  while (Date.now() - started < timeoutMs) {
    if (!isProcessAlive(pid)) return { was_running: true, pid, waited_ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new HozironError(
    'daemon_running',
    `the daemon (pid ${pid}) is still running ${Math.round(timeoutMs / 1000)}s after SIGTERM`,
    `see ${home.daemonLog}; wait longer, or kill -9 ${pid} as a last resort`,
    { remedy: 'wait_for_stop', details: { pid, log: home.daemonLog } },
  );
}
