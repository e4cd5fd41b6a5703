/** `hoziron backup prune [--keep N]`: keep the newest N backups (default: [backup] retention). */
import { InvalidArgumentError, type Command } from 'commander';
import type { App } from '../app.js';
import { backupCommand } from './backup.js';

function parseKeep(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new InvalidArgumentError('expected a whole number of at least 1.');
  }
  return Number(text);
}

export function registerBackupPrune(program: Command, app: App): void {
  backupCommand(program)
    .command('prune')
    .description('delete all but the newest N backups (pre-restore backups are kept apart)')
    .option('--keep <n>', 'how many to keep (default: [backup] retention)', parseKeep)
    .option('--json', 'print the deleted records as a JSON array')
    .action(async (opts: { keep?: number; json?: boolean }) => {
      const { home, cfg } = await app.open();
      const { pruneBackups } = await import('../../backup/retention.js');
      const deleted = await pruneBackups(home, cfg, { keep: opts.keep, actor: 'cli', onWarning: (m) => app.warn(m) });
      if (opts.json) app.printJson(deleted);
      else if (deleted.length === 0) app.print('Nothing to prune.');
      else app.print([`Pruned ${deleted.length} backup${deleted.length === 1 ? '' : 's'}:`, ...deleted.map((r) => `  ${r.id}  ${r.path}`)]);
    });
}
