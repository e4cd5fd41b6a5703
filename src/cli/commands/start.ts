/** `hoziron start [--foreground]`: run the daemon attached, or detached and wait until it answers. */
import type { Command } from 'commander';
import type { App } from '../app.js';

export function registerStart(program: Command, app: App): void {
  program
    .command('start')
    .description('start the daemon in the background (or attached with --foreground) and wait until it answers')
    .option('--foreground', 'run attached, logging to stdout (for systemd and containers)')
    .option('--json', 'print one JSON document (background start only)')
    .action(async (opts: { foreground?: boolean; json?: boolean }) => {
      const { home, cfg } = await app.open();
      if (opts.foreground) {
        const { serveForeground } = await import('../../daemon/main.js');
        await serveForeground(home, cfg);
        return;
      }
      const { readDaemonStatus } = await import('../../home/run.js');
      const status = readDaemonStatus(home);
      if (status.running) {
        const { HozironError } = await import('../../errors.js');
        throw new HozironError(
          'daemon_running',
          `a Hoziron daemon already runs on ${home.root} (pid ${status.pid}${status.address ? `, ${status.address}` : ''})`,
          'stop it with `hoziron stop`, or use another --home',
        );
      }
      const { refuseWhileRestoring } = await import('../../daemon/start-guard.js');
      await refuseWhileRestoring(home);
      const { launchDaemon } = await import('../../daemon/launch.js');
      const r = await launchDaemon(home);
      if (opts.json) app.printJson({ pid: r.pid, address: r.address, started_at: r.started_at, log: r.log });
      else app.print(`hoziron daemon started: pid ${r.pid}, listening on http://${r.address} (log: ${r.log})`);
    });
}
