/** `hoziron backup show <id|file> [--json]`: the record and the manifest's summary. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { formatBytes, formatTime } from '../format.js';
import { backupCommand } from './backup.js';

export function registerBackupShow(program: Command, app: App): void {
  backupCommand(program)
    .command('show')
    .description('show a backup: its record and manifest summary, and when it was last verified')
    .argument('<id|file>', 'backup id (from `backup list`) or archive path')
    .option('--json', 'print the record and manifest summary as one JSON document')
    .action(async (idOrFile: string, opts: { json?: boolean }) => {
      const { cfg } = await app.open();
      const { findCatalogEntry } = await import('../../backup/catalog.js');
      const { record, summary } = await findCatalogEntry(cfg, idOrFile);
      const m = summary.manifest;
      if (opts.json) {
        app.printJson({ ...record, manifest: m });
        return;
      }
      app.print([
        `Backup ${record.id}`,
        `  path:           ${record.path}`,
        `  scope:          ${record.scope}${record.scope === 'pre-restore' ? ` (${m.scope})` : ''}`,
        `  created:        ${formatTime(record.created_at)} UTC on ${m.host}, hoziron ${m.hoziron_version}, format ${m.format}`,
        `  size:           ${formatBytes(record.size_bytes)} (${m.file_count} files, ${m.dir_count} folders, ${formatBytes(m.unpacked_bytes)} unpacked)`,
        `  checksum:       ${record.checksum}`,
        `  encrypted:      ${record.encrypted ? 'yes (age; reading it needs an identity)' : 'no'}`,
        `  audit head:     ${m.audit_head ? `event ${m.audit_head.seq} (${m.audit_head.hash.slice(0, 16)}…)` : 'none (agents-only)'}`,
        `  last verified:  ${summary.last_verified_at ? `${formatTime(summary.last_verified_at)} UTC` : 'never (run `hoziron backup verify`)'}`,
      ]);
    });
}
