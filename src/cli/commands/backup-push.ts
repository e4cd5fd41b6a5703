/** `hoziron backup push <id>|--all [--json]`: upload backups of the storage path to the remote. */
import type { Command } from 'commander';
import { HozironError } from '../../errors.js';
import type { App } from '../app.js';
import { backupCommand } from './backup.js';

export function registerBackupPush(program: Command, app: App): void {
  backupCommand(program)
    .command('push')
    .description('upload a backup (or --all not yet there) with its sidecars to the remote ([backup.remote])')
    .argument('[id]', 'backup id (from `backup list`) or archive file name')
    .option('--all', 'every backup of the storage path the remote does not hold yet (and the failed uploads)')
    .option('--json', 'print what was uploaded as one JSON document')
    .action(async (id: string | undefined, opts: { all?: boolean; json?: boolean }) => {
      if ((id === undefined) === (opts.all !== true)) throw new HozironError('usage', 'name one backup to push, or --all');
      const { home, cfg } = await app.open();
      const { pushBackups } = await import('../../backup/offsite.js');
      const result = await pushBackups(home, cfg, id === undefined ? { all: true } : { idOrFile: id }, {
        actor: 'cli',
        onWarning: opts.json ? undefined : (m) => app.warn(m),
      });
      if (opts.json) app.printJson(result);
      else {
        app.print([
          ...result.uploaded.map((f) => `Uploaded ${f} to ${result.remote}.`),
          ...(result.already.length > 0 ? [`Already on ${result.remote}: ${result.already.length} backup(s).`] : []),
        ]);
      }
    });
}
