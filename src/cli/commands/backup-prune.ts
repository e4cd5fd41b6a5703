/** `hoziron backup prune [--keep N] [--dry-run] [--json]`: retention now (docs/format.md#retention). */
import { InvalidArgumentError, type Command } from 'commander';
import type { PruneEntry, PruneResult } from '../../api/types.js';
import type { App } from '../app.js';
import { formatTime } from '../format.js';
import { backupCommand } from './backup.js';

function parseKeep(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new InvalidArgumentError('expected a whole number of at least 1.');
  }
  return Number(text);
}

const line = (e: PruneEntry) => `  ${e.id}  ${e.file ?? e.path}  ${e.scope}, ${formatTime(e.created_at)}: ${e.reason}`;
const plural = (n: number) => `${n} backup${n === 1 ? '' : 's'}`;

function renderPrune(r: PruneResult): string[] {
  const out: string[] = [];
  if (r.deleted.length === 0) out.push(r.dry_run ? 'Dry run: nothing would be deleted.' : 'Nothing to prune.');
  else
    out.push(
      r.dry_run ? `Dry run: would delete ${plural(r.deleted.length)}:` : `Deleted ${plural(r.deleted.length)}:`,
      ...r.deleted.map(line),
    );
  if (r.kept.length > 0) out.push(`Keeping ${plural(r.kept.length)}:`, ...r.kept.map(line));
  if (r.broken.length > 0) {
    out.push(`Left in place, failing their checksum (not counted as kept): ${plural(r.broken.length)}:`, ...r.broken.map(line));
    out.push('  check one with `hoziron backup verify <file>`; remove it with `hoziron backup delete <file>`');
  }
  if (r.dry_run) out.push('Nothing was changed. Run again without --dry-run to delete.');
  return out;
}

export function registerBackupPrune(program: Command, app: App): void {
  backupCommand(program)
    .command('prune')
    .description('keep the newest N good backups of each scope and delete the older ones (pre-restore backups keep their own 3)')
    .option('--keep <n>', 'how many good backups of each scope to keep (default: [backup] retention)', parseKeep)
    .option('--dry-run', 'show what would be deleted and why; change nothing')
    .option('--json', 'print what was deleted, kept and left as one JSON document')
    .action(async (opts: { keep?: number; dryRun?: boolean; json?: boolean }) => {
      const { home, cfg } = await app.open();
      const { pruneBackups } = await import('../../backup/retention.js');
      const result = await pruneBackups(home, cfg, {
        keep: opts.keep,
        dryRun: opts.dryRun === true,
        actor: 'cli',
        onWarning: (m) => app.warn(m),
      });
      if (opts.json) app.printJson(result);
      else app.print(renderPrune(result));
    });
}
