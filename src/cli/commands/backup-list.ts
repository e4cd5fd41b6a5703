/**
 * `hoziron backup list [--remote] [--json]`: a table (id, created, scope, size, where), newest
 * first, or a JSON array of records. With `[backup.remote]`, local and remote are merged
 * (`location`: local, remote, both); `--remote` lists what the remote holds.
 */
import type { Command } from 'commander';
import type { BackupRecord } from '../../api/types.js';
import type { App } from '../app.js';
import { formatBytes, formatTime, renderTable } from '../format.js';
import { backupCommand } from './backup.js';

const SCOPE_LABEL: Record<BackupRecord['scope'], string> = { full: 'Full', agents: 'Agents', 'pre-restore': 'Pre-restore' };

function renderBackupTable(records: BackupRecord[]): string[] {
  const located = records.some((r) => r.location !== undefined);
  return renderTable(
    ['ID', 'CREATED', 'SCOPE', 'SIZE', ...(located ? ['WHERE'] : []), 'FILE'],
    records.map((r) => [
      r.id,
      formatTime(r.created_at),
      SCOPE_LABEL[r.scope],
      r.pending ? 'pending' : formatBytes(r.size_bytes),
      ...(located ? [r.location ?? ''] : []),
      r.file ?? '',
    ]),
  );
}

export function registerBackupList(program: Command, app: App): void {
  backupCommand(program)
    .command('list')
    .description('list the backups in the storage path, newest first')
    .option('--remote', 'list the backups on the remote ([backup.remote]) only')
    .option('--json', 'print a JSON array of backup records')
    .action(async (opts: { json?: boolean; remote?: boolean }) => {
      const { home, cfg } = await app.open();
      const { listBackups } = await import('../../backup/catalog.js');
      const { listRemoteBackups, remoteConfigured, withLocations } = await import('../../backup/remote-catalog.js');
      const { listPendingSafety } = await import('../../backup/safety-point.js');
      const warn = (m: string) => app.warn(m);
      const local = async () => {
        // A restore's safety backup still being written shows first, marked pending (read
        // first, so one completed meanwhile is listed once, complete).
        const pending = await listPendingSafety(home, cfg);
        const done = await listBackups(cfg);
        const all = [...pending.filter((p) => !done.some((r) => r.id === p.id)), ...done];
        return remoteConfigured(cfg) ? await withLocations(home, cfg, all, warn) : all;
      };
      const records = opts.remote ? await listRemoteBackups(home, cfg, warn) : await local();
      if (opts.json) app.printJson(records);
      else if (records.length === 0) app.print(opts.remote ? 'No backups on the remote.' : `No backups in ${cfg.storageDir}.`);
      else app.print(renderBackupTable(records));
    });
}
