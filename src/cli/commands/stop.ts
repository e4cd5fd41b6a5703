/** `hoziron stop [--timeout S]`: stop the daemon gracefully and wait for it to exit. */
import type { Command } from 'commander';
import { HozironError } from '../../errors.js';
import type { App } from '../app.js';

/** With backup_on_shutdown the daemon backs up before exiting: allow for a large home. */
const DEFAULT_TIMEOUT_S = 30;
const SHUTDOWN_BACKUP_TIMEOUT_S = 30 * 60;

export function registerStop(program: Command, app: App): void {
  program
    .command('stop')
    .description('stop the daemon gracefully (finishing requests and the shutdown backup) and wait for it to exit')
    .option('--timeout <seconds>', 'how long to wait (default 30, or 1800 with backup_on_shutdown)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { timeout?: string; json?: boolean }) => {
      const home = await app.runPreflights();
      let timeoutS = DEFAULT_TIMEOUT_S;
      try {
        if (app.config().config.backup.backup_on_shutdown) timeoutS = SHUTDOWN_BACKUP_TIMEOUT_S;
      } catch {
        /* a broken config must not prevent stopping the daemon */
      }
      if (opts.timeout !== undefined) {
        timeoutS = Number(opts.timeout);
        if (!Number.isFinite(timeoutS) || timeoutS <= 0)
          throw new HozironError('usage', `--timeout must be a positive number of seconds, not ${opts.timeout}`);
      }
      const { stopDaemon } = await import('../../daemon/stop.js');
      if (!opts.json && timeoutS === SHUTDOWN_BACKUP_TIMEOUT_S)
        app.print('stopping the daemon (it takes a backup first: backup_on_shutdown = true)...');
      const r = await stopDaemon(home, timeoutS * 1000);
      if (opts.json) app.printJson(r);
      else
        app.print(
          r.was_running
            ? `hoziron daemon stopped (pid ${r.pid}, ${((r.waited_ms ?? 0) / 1000).toFixed(1)}s)`
            : 'hoziron daemon is not running',
        );
    });
}
