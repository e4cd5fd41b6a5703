/** `hoziron backup delete <id>`: delete one archive of the storage path and its sidecars. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { backupCommand } from './backup.js';

export function registerBackupDelete(program: Command, app: App): void {
  backupCommand(program)
    .command('delete')
    .description('delete one backup (archive and sidecars) from the storage path')
    .argument('<id>', 'backup id (from `backup list`) or archive path')
    .option('--json', 'print the deleted record as one JSON document')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { home, cfg } = await app.open();
      const { deleteBackup } = await import('../../backup/retention.js');
      const record = await deleteBackup(home, cfg, id, { actor: 'cli', onWarning: (m) => app.warn(m) });
      if (opts.json) app.printJson(record);
      else app.print(`Deleted backup ${record.id} (${record.path}).`);
    });
}
