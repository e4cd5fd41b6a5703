/** `hoziron backup pull <id> [--json]`: download a backup from the remote into the storage path. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { backupCommand } from './backup.js';

export function registerBackupPull(program: Command, app: App): void {
  backupCommand(program)
    .command('pull')
    .description('download a backup from the remote ([backup.remote]) into the storage path, verified as it streams')
    .argument('<id>', 'backup id (from `backup list --remote`) or archive file name')
    .option('--json', 'print the pulled record as one JSON document')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { home, cfg } = await app.open();
      const { pullBackup } = await import('../../backup/remote-catalog.js');
      const record = await pullBackup(home, cfg, id, { actor: 'cli', onWarning: (m) => app.warn(m) });
      if (opts.json) app.printJson(record);
      else app.print(`Pulled backup ${record.id} to ${record.path}.`);
    });
}
