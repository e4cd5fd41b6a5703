/** `hoziron backup delete <id> [--remote]`: delete one archive and its sidecars from the storage path, or from the remote. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { backupCommand } from './backup.js';

export function registerBackupDelete(program: Command, app: App): void {
  backupCommand(program)
    .command('delete')
    .description('delete one backup (archive and sidecars) from the storage path')
    .argument('<id>', 'backup id (from `backup list`) or archive path')
    .option('--remote', 'delete it from the remote ([backup.remote]) instead of the storage path')
    .option('--json', 'print the deleted record as one JSON document')
    .action(async (id: string, opts: { json?: boolean; remote?: boolean }) => {
      const { home, cfg } = await app.open();
      const { deleteBackup } = await import('../../backup/retention.js');
      const { deleteRemoteBackup } = await import('../../backup/remote-catalog.js');
      const how = { actor: 'cli', onWarning: (m: string) => app.warn(m) };
      const record = opts.remote ? await deleteRemoteBackup(home, cfg, id, how) : await deleteBackup(home, cfg, id, how);
      if (opts.json) app.printJson(record);
      else app.print(`Deleted backup ${record.id} (${record.path}).`);
    });
}
