/**
 * `hoziron doctor [--json] [--break-lock backup|daemon]`: offline health checks of the home;
 * exit 1 if any check fails. `--break-lock` first clears a lock whose owner is gone or silent.
 */
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
    .option('--break-lock <name>', 'first remove the backup or daemon lock, if its owner is gone or silent (never a live one)')
    .action(async (opts: { json?: boolean; breakLock?: string }) => {
      const { runDoctor } = await import('../../doctor/checks.js');
      const { LOCK_NAMES, breakNamedLock } = await import('../../doctor/locks.js');
      const lockName = LOCK_NAMES.find((n) => n === opts.breakLock);
      if (opts.breakLock !== undefined && !lockName) {
        throw new HozironError('usage', `--break-lock takes ${LOCK_NAMES.join(' or ')}, not ${opts.breakLock}`);
      }
      const home = await app.runPreflights();
      let cfg: LoadedConfig | undefined;
      let configError: unknown;
      try {
        cfg = app.config();
      } catch (err) {
        configError = err;
      }
      if (lockName) {
        const done = await breakNamedLock(lockName, home, cfg);
        if (!opts.json) app.print(done);
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
