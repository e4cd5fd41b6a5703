/** `hoziron status [--json]`: whether the daemon runs on this home, where and since when. */
import type { Command } from 'commander';
import type { App } from '../app.js';

export function registerStatus(program: Command, app: App): void {
  program
    .command('status')
    .description('say whether the daemon runs on this home, where it listens and since when')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const home = await app.runPreflights();
      const { readDaemonStatus } = await import('../../home/run.js');
      const s = readDaemonStatus(home);
      if (opts.json) {
        app.printJson(s);
        return;
      }
      if (!s.running) {
        app.print(`hoziron daemon: not running (home ${home.root})`);
        return;
      }
      const since = s.started_at
        ? `, since ${s.started_at} (up ${Math.round((Date.now() - Date.parse(s.started_at)) / 1000)}s)`
        : ' (starting)';
      app.print(`hoziron daemon: running, pid ${s.pid}${s.address ? `, listening on http://${s.address}` : ''}${since}`);
    });
}
