/**
 * `hoziron stop`: SIGTERM to the daemon that holds the home's lock, then wait until that
 * process is gone. The daemon's own shutdown does the work (finish requests, shutdown backup,
 * close the databases, remove its files); this side only signals and waits, so it is safe to
 * run twice. A signal goes only to a process verified to be the lock's owner: same host, boot
 * and PID namespace, same pid and start time. A daemon in another container or pod is never
 * signalled from here (its pid would name another process here, pid 1 not excepted).
 */
import { HozironError } from '../errors.js';
import { isOwnerRunning } from '../fsutil/owner.js';
import type { HomeLayout } from '../home/layout.js';
import { readDaemonLock } from '../home/run.js';

export interface StopResult {
  was_running: boolean;
  pid?: number;
  waited_ms?: number;
}

export async function stopDaemon(home: HomeLayout, timeoutMs: number): Promise<StopResult> {
  const lock = readDaemonLock(home);
  if (!lock || lock.judgment.state !== 'alive' || lock.record.pid === undefined) return { was_running: false };
  const pid = lock.record.pid;
  if (!lock.judgment.local || !lock.judgment.verified) {
    throw new HozironError(
      'daemon_running',
      `the daemon on ${home.root} cannot be signalled from here: ${lock.judgment.reason} (its lock names pid ${pid}${lock.record.host ? ` on host ${lock.record.host}` : ''})`,
      'run `hoziron stop` where the daemon runs (its container or pod), or stop that container; `hoziron doctor` shows its lock',
    );
  }
  const record = lock.record;
  const started = Date.now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if (!isOwnerRunning(record)) return { was_running: false };
    throw new HozironError('io', `cannot signal the daemon (pid ${pid}): ${(err as Error).message}`);
  }
  while (Date.now() - started < timeoutMs) {
    if (!isOwnerRunning(record)) return { was_running: true, pid, waited_ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 100));
  }
  const lastResort = pid === 1 ? 'restart its container as a last resort' : `kill -9 ${pid} as a last resort`;
  throw new HozironError(
    'daemon_running',
    `the daemon (pid ${pid}) is still running ${Math.round(timeoutMs / 1000)}s after SIGTERM`,
    `see ${home.daemonLog}; wait longer, or ${lastResort}`,
    { remedy: 'wait_for_stop', details: { pid, log: home.daemonLog, last_resort: lastResort } },
  );
}
