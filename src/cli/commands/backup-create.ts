/** `hoziron backup create [--agents-only] [--output PATH [--passphrase | --passphrase-file FILE]] [--json]`. */
import type { Command } from 'commander';
import { HozironError } from '../../errors.js';
import type { BackupRecord, PruneEntry } from '../../api/types.js';
import type { App } from '../app.js';
import { formatBytes } from '../format.js';
import { commandPassphrase, type PassphraseFlags } from '../passphrase.js';
import { startProgress } from '../progress.js';
import { backupCommand } from './backup.js';

function renderCreated(r: BackupRecord, pruned: PruneEntry[]): string[] {
  return [
    `Created ${r.scope === 'agents' ? 'agents-only' : r.scope} backup ${r.id}`,
    `  path:     ${r.path}`,
    `  size:     ${formatBytes(r.size_bytes)} (${r.file_count ?? 0} files, ${formatBytes(r.unpacked_bytes ?? 0)} unpacked)`,
    `  checksum: ${r.checksum}`,
    ...(r.upload ? [`  remote:   ${r.upload.ok ? 'uploaded' : `upload failed, kept locally (${r.upload.error ?? ''})`}`] : []),
    ...pruned.map((p) => `Pruned ${p.scope} backup ${p.id} (${p.file ?? p.path}): ${p.reason}`),
  ];
}

export function registerBackupCreate(program: Command, app: App): void {
  backupCommand(program)
    .command('create')
    .description('create a backup archive of the home (full, or agents only)')
    .option('--agents-only', 'only data/agents/, data/memory/ and data/hoziron.db')
    .option('--output <path>', 'write the archive to this path (sidecars beside it)')
    .option(
      '--passphrase',
      'with --output: encrypt this one archive with a passphrase instead of the recipients (asked on the terminal, or HOZIRON_BACKUP_PASSPHRASE)',
    )
    .option('--passphrase-file <file>', 'like --passphrase, read from the first line of this file')
    .option('--json', 'print the backup record as one JSON document')
    .action(async (opts: { agentsOnly?: boolean; output?: string; json?: boolean } & PassphraseFlags) => {
      const { home, cfg: loaded } = await app.open();
      if ((opts.passphrase || opts.passphraseFile !== undefined) && opts.output === undefined) {
        throw new HozironError(
          'usage',
          'a passphrase encrypts only a one-off archive written with --output; backups in the storage path encrypt to the configured recipients',
          'add --output FILE.tar.gz.age',
        );
      }
      const passphrase = await commandPassphrase(app, opts, true);
      const { createBackup } = await import('../../backup/create.js');
      const { withPassphraseRecipient } = await import('../../backup/archive-keys.js');
      const cfg = passphrase ? withPassphraseRecipient(loaded, passphrase) : loaded;
      const progress = await startProgress('Backing up', { json: opts.json, phase: 'snapshot' });
      let record: BackupRecord;
      const pruned: PruneEntry[] = [];
      try {
        record = await createBackup(home, cfg, {
          scope: opts.agentsOnly ? 'agents' : 'full',
          output: opts.output,
          actor: 'cli',
          onProgress: (done, total) => progress.update(done, total),
          onPhase: (phase) => progress.phase(phase),
          onWarning: (m) => app.warn(m),
          onPruned: (p) => pruned.push(p),
        });
      } finally {
        progress.stop();
      }
      if (opts.json) app.printJson(pruned.length > 0 ? { ...record, pruned } : record);
      else app.print(renderCreated(record, pruned));
    });
}
