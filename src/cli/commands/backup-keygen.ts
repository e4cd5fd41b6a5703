/** `hoziron backup keygen [--output FILE]`: a new age identity for encrypted backups; prints its recipient. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { backupCommand } from './backup.js';

export function registerBackupKeygen(program: Command, app: App): void {
  backupCommand(program)
    .command('keygen')
    .description('generate an age identity for encrypted backups and print its recipient (age1…)')
    .option('--output <file>', 'write the identity to this file (0600; never replaced); without it, print it')
    .action(async (opts: { output?: string }) => {
      const { createIdentity } = await import('../../backup/keygen.js');
      const key = await createIdentity(opts.output);
      if (key.identityText !== undefined) {
        // Like age-keygen: the identity on stdout (for a redirect), the recipient on stderr.
        app.stdout.write(key.identityText);
        app.stderr.write(`Public key: ${key.recipient}\n`);
        return;
      }
      // The recipient alone on stdout, for `R=$(hoziron backup keygen --output FILE)`.
      app.print([key.recipient]);
      app.stderr.write(`Wrote the identity to ${key.path} (mode 0600); keep a copy away from the backups.\n`);
    });
}
