/** `hoziron doctor [--json]`: offline health checks of the home; exit 1 if any check fails. */
import type { Command } from 'commander';
import { HozironError } from '../../errors.js';
import type { LoadedConfig } from '../../home/config.js';
import type { App } from '../app.js';
import { cliRemedy } from '../hints.js';

export function registerDoctor(program: Command, app: App): void {
  program
    .command('doctor')
    .description('check the home offline: config, databases, audit chain, permissions, storage, disk space')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const { runDoctor } = await import('../../doctor/checks.js');
      const home = await app.runPreflights();
      let cfg: LoadedConfig | undefined;
      let configError: unknown;
      try {
        cfg = app.config();
      } catch (err) {
        configError = err;
      }
      const report = await runDoctor({ home, cfg, configError });
      // A finding's remedy, in the CLI's words, closes its message (text and --json alike).
      const checks = report.checks.map(({ remedy, ...c }) => (remedy ? { ...c, message: `${c.message} (${cliRemedy(remedy)})` } : c));
      if (opts.json) {
        app.printJson({ ...report, checks });
      } else {
        const width = Math.max(...checks.map((c) => c.check.length));
        for (const c of checks) app.print(`${c.status.padEnd(5)} ${c.check.padEnd(width)}  ${c.message}`);
        app.print(`${report.summary.ok} ok, ${report.summary.warn} warn, ${report.summary.fail} fail`);
      }
      const failed = checks.filter((c) => c.status === 'fail');
      const first = failed[0];
      if (first) {
        throw new HozironError(
          'check_failed',
          `${first.check}: ${first.message}`,
          failed.length > 1 ? `${failed.length} checks failed (listed above)` : undefined,
        );
      }
    });
}
