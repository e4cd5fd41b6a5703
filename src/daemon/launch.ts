/**
 * `hoziron start` without --foreground: run the same bin as a detached child
 * (`start --foreground`, stdout and stderr appended to run/daemon.log) and wait until it
 * has published its pid file and answers health. If the child exits first, its own error
 * lines from the log become this command's error, so the operator sees why it did not start.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { HozironError } from '../errors.js';
import { ensureDir } from '../fsutil/atomic.js';
import type { HomeLayout } from '../home/layout.js';
import { fetchHealth } from '../api/client.js';
import { readPidFile } from '../home/run.js';

export interface Launched {
  pid: number;
  address: string;
  started_at: string;
  log: string;
}

function logSince(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

export async function launchDaemon(home: HomeLayout, timeoutMs = 20_000): Promise<Launched> {
  await ensureDir(home.runDir, 0o700);
  let offset = 0;
  try {
    offset = statSync(home.daemonLog).size;
  } catch {
    /* no log yet */
  }
  const fd = openSync(home.daemonLog, 'a', 0o600);
  const script = process.argv[1];
  if (!script) throw new HozironError('internal', 'cannot tell which hoziron executable to start');
  const child = spawn(process.execPath, [...process.execArgv, script, '--home', home.root, 'start', '--foreground'], {
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new HozironError('io', 'could not start the daemon process');

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const lines = logSince(home.daemonLog, offset)
        .split('\n')
        .filter((l) => /^(error|hint): /.test(l));
      const message = lines.find((l) => l.startsWith('error: '))?.slice(7) ?? `the daemon exited with code ${exited}`;
      const hint = lines.find((l) => l.startsWith('hint: '))?.slice(6) ?? `see ${home.daemonLog}`;
      throw new HozironError(/already runs/.test(message) ? 'daemon_running' : 'io', message, hint);
    }
    const info = readPidFile(home);
    if (info?.pid === pid) {
      try {
        await fetchHealth(info.address, 1000);
        return { pid, address: info.address, started_at: info.started_at, log: home.daemonLog };
      } catch {
        /* listening but not answering yet */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new HozironError(
    'daemon_unreachable',
    `the daemon (pid ${pid}) did not answer within ${timeoutMs / 1000}s`,
    `see ${home.daemonLog}`,
  );
}
