/** `hoziron backup restore <id|file> [--confirm] [--no-verify] [--force] [--json]`. */
import type { Command } from 'commander';
import type { RestoreChanges, RestorePlan, RestoreResult } from '../../api/restore.js';
import type { App } from '../app.js';
import { formatBytes, formatTime } from '../format.js';
import { startProgress } from '../progress.js';
import { backupCommand } from './backup.js';

function renderChanges(c: RestoreChanges): string[] {
  return [
    `  replaces: ${c.items.join(', ')}`,
    `  added:    ${c.added.count} files (${formatBytes(c.added.bytes)})`,
    `  replaced: ${c.replaced.count} files (${formatBytes(c.replaced.bytes_before)} → ${formatBytes(c.replaced.bytes_after)})`,
    `  removed:  ${c.removed.count} files (${formatBytes(c.removed.bytes)})`,
  ];
}

function renderArchive(r: RestorePlan | RestoreResult): string[] {
  const a = r.archive;
  return [
    `  archive:  ${a.path}`,
    `  id:       ${a.id}`,
    `  created:  ${formatTime(a.created_at)}`,
    `  scope:    ${a.scope}`,
    `  version:  hoziron ${a.hoziron_version}, format ${a.format}`,
    `  checksum: ${r.checksum_verified ? 'verified' : 'not verified (--no-verify)'}; every entry verified`,
  ];
}

function renderPlan(p: RestorePlan): string[] {
  const head = p.restorable
    ? 'Dry run: the archive is sound and would be restored.'
    : `Dry run: the archive is sound, but a restore would be refused: ${p.refusal}.`;
  return [head, ...renderArchive(p), ...renderChanges(p.changes), 'Nothing was changed. Run again with --confirm to restore.'];
}

function renderResult(r: RestoreResult): string[] {
  const t = r.timings;
  return [
    `Restored backup ${r.archive.id} (${r.archive.scope}).`,
    ...renderArchive(r),
    ...renderChanges(r.changes),
    `  safety backup: ${r.safety_backup ? `${r.safety_backup.id} (${r.safety_backup.path})` : 'none'}`,
    `  time: restore ${(t.restore_ms / 1000).toFixed(1)}s + safety backup ${(t.safety_backup_ms / 1000).toFixed(1)}s = ${(t.total_ms / 1000).toFixed(1)}s`,
    'Restart the daemon with `hoziron start`.',
  ];
}

export function registerBackupRestore(program: Command, app: App): void {
  backupCommand(program)
    .command('restore <id|file>')
    .description('restore the home from a backup (a dry run unless --confirm)')
    .option('--confirm', 'actually restore (without it: verify and show what would change)')
    .option('--no-verify', 'skip the whole-archive checksum (every entry is still checked)')
    .option('--force', 'restore even though the daemon is running')
    .option('--identity <file>', 'age identity file to decrypt an encrypted archive (else HOZIRON_BACKUP_IDENTITY, identity_file)')
    .option('--json', 'print the plan or the result as one JSON document')
    .action(async (source: string, opts: { confirm?: boolean; verify: boolean; force?: boolean; json?: boolean; identity?: string }) => {
      const { home, cfg: loaded } = await app.open();
      const { restoreBackup } = await import('../../backup/restore.js');
      const { withIdentityFile } = await import('../../backup/archive-keys.js');
      const cfg = withIdentityFile(loaded, opts.identity);
      const progress = await startProgress(opts.confirm ? 'Restoring' : 'Verifying', { json: opts.json });
      let outcome: RestorePlan | RestoreResult;
      try {
        outcome = await restoreBackup(home, cfg, {
          source,
          confirm: opts.confirm === true,
          verify: opts.verify,
          force: opts.force === true,
          actor: 'cli',
          onProgress: (phase, done, total) => {
            if (phase === 'verify') progress.update(done, total);
          },
          onWarning: opts.json ? undefined : (m) => app.warn(m),
        });
      } finally {
        progress.stop();
      }
      if (opts.json) app.printJson(outcome);
      else app.print(outcome.dry_run ? renderPlan(outcome) : renderResult(outcome));
      if (outcome.dry_run && !outcome.restorable) {
        app.stderr.write(`error: a restore would be refused: ${outcome.refusal}\nhint: run \`hoziron stop\` first (or pass --force)\n`);
        process.exitCode = 1;
      }
    });
}
