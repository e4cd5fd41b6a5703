/** `hoziron backup create [--agents-only] [--output PATH] [--json]`. */
import type { Command } from 'commander';
import type { BackupRecord, PruneEntry } from '../../api/types.js';
import type { App } from '../app.js';
import { formatBytes } from '../format.js';
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
    .option('--json', 'print the backup record as one JSON document')
    .action(async (opts: { agentsOnly?: boolean; output?: string; json?: boolean }) => {
      const { home, cfg } = await app.open();
      const { createBackup } = await import('../../backup/create.js');
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
