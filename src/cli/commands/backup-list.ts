/** `hoziron backup list [--json]`: a table (id, created, scope, size), newest first, or a JSON array of records. */
import type { Command } from 'commander';
import type { BackupRecord } from '../../api/types.js';
import type { App } from '../app.js';
import { formatBytes, formatTime, renderTable } from '../format.js';
import { backupCommand } from './backup.js';

const SCOPE_LABEL: Record<BackupRecord['scope'], string> = { full: 'Full', agents: 'Agents', 'pre-restore': 'Pre-restore' };

function renderBackupTable(records: BackupRecord[]): string[] {
  return renderTable(
    ['ID', 'CREATED', 'SCOPE', 'SIZE', 'FILE'],
    records.map((r) => [
      r.id,
      formatTime(r.created_at),
      SCOPE_LABEL[r.scope],
      r.pending ? 'pending' : formatBytes(r.size_bytes),
      r.file ?? '',
    ]),
  );
}

export function registerBackupList(program: Command, app: App): void {
  backupCommand(program)
    .command('list')
    .description('list the backups in the storage path, newest first')
    .option('--json', 'print a JSON array of backup records')
    .action(async (opts: { json?: boolean }) => {
      const { home, cfg } = await app.open();
      const { listBackups } = await import('../../backup/catalog.js');
      const { listPendingSafety } = await import('../../backup/safety-point.js');
      // A restore's safety backup still being written shows first, marked pending (read
      // first, so one completed meanwhile is listed once, complete).
      const pending = await listPendingSafety(home, cfg);
      const done = await listBackups(cfg);
      const records = [...pending.filter((p) => !done.some((r) => r.id === p.id)), ...done];
      if (opts.json) app.printJson(records);
      else if (records.length === 0) app.print(`No backups in ${cfg.storageDir}.`);
      else app.print(renderBackupTable(records));
    });
}
