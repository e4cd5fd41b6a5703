/**
 * `hoziron backup restore <id|file> [--confirm] [--no-verify] [--identity FILE] [--json]`. With a daemon running
 * on the home, a confirmed restore goes through it (daemon/cli-restore.ts).
 */
import type { Command } from 'commander';
import type { RestoreChanges, RestoreKeyRef, RestorePlan, RestoreResult, RestoreSinceBackup } from '../../api/restore.js';
import { printableLine } from '../../printable.js';
import type { App } from '../app.js';
import { formatBytes, formatDuration, formatTime } from '../format.js';
import { startProgress } from '../progress.js';
import { backupCommand } from './backup.js';
import { addDecryptOptions, commandPassphrase, type PassphraseFlags } from '../passphrase.js';

/** Paths shown per kind of change in the human view (--json lists every one). */
const FIRST_PATHS = 10;

function firstPaths(paths: readonly string[]): string[] {
  const shown = paths.slice(0, FIRST_PATHS).map((p) => `      ${p}`);
  if (paths.length > FIRST_PATHS) shown.push(`      … and ${paths.length - FIRST_PATHS} more (--json lists every path)`);
  return shown;
}

const keyList = (keys: readonly RestoreKeyRef[]) => keys.map((k) => `${k.id} (${k.name}, ${k.role})`).join(', ');

function renderChanges(c: RestoreChanges): string[] {
  const lines = [
    `  replaces: ${c.items.join(', ')}`,
    `  added:    ${c.added.count} files (${formatBytes(c.added.bytes)})`,
    ...firstPaths(c.added.paths),
    `  replaced: ${c.replaced.count} files (${formatBytes(c.replaced.bytes_before)} → ${formatBytes(c.replaced.bytes_after)})`,
    ...firstPaths(c.replaced.paths),
    `  removed:  ${c.removed.count} files (${formatBytes(c.removed.bytes)})`,
    ...firstPaths(c.removed.paths),
  ];
  for (const b of c.behaviour) lines.push(`  setting:  ${b.key} ${b.before} → ${b.after}${b.note ? ` (${b.note})` : ''}`);
  if (c.keys.come_back.length > 0) lines.push(`  API keys that come back: ${keyList(c.keys.come_back)}`);
  if (c.keys.go_away.length > 0) lines.push(`  API keys that go away: ${keyList(c.keys.go_away)}`);
  if (c.keys.kept_revoked.length > 0)
    lines.push(`  API keys kept revoked (revoked here since the backup): ${keyList(c.keys.kept_revoked)}`);
  return lines;
}

function renderSince(s: RestoreSinceBackup, verb: 'would be' | 'was'): string {
  const since = s.basis === 'audit_head' ? "since the backup's audit head" : 'since the backup was taken';
  const work =
    s.audit_events === 0
      ? `no audit events ${since}`
      : `${s.audit_events} audit events ${since}, the newest at ${formatTime(s.newest_event_at ?? '')}: work since then ${verb} lost`;
  return `  age:      ${formatDuration(s.age_seconds)}; ${work}`;
}

const CHECKSUM_WORDS: Record<RestoreResult['checksum_source'], string> = {
  sidecar: 'verified against its .sha256',
  operator: 'verified against the checksum given',
  none: 'not verified (--no-verify)',
};

function renderArchive(r: RestorePlan | RestoreResult): string[] {
  const a = r.archive;
  return [
    `  archive:  ${a.path}`,
    `  id:       ${a.id}`,
    `  created:  ${formatTime(a.created_at)}`,
    `  scope:    ${a.scope}`,
    `  version:  hoziron ${a.hoziron_version}, format ${a.format}`,
    `  checksum: ${CHECKSUM_WORDS[r.checksum_source]}; every entry verified`,
  ];
}

function renderPlan(p: RestorePlan): string[] {
  const head = p.restorable
    ? 'Dry run: the archive is sound and would be restored.'
    : `Dry run: the archive is sound, but a restore would be refused: ${p.refusal}.`;
  return [
    head,
    ...renderArchive(p),
    renderSince(p.since_backup, 'would be'),
    ...renderChanges(p.changes),
    'Nothing was changed. Run again with --confirm to restore.',
  ];
}

function renderResult(r: RestoreResult, daemon: { pid: number } | undefined): string[] {
  const t = r.timings;
  return [
    `Restored backup ${r.archive.id} (${r.archive.scope}).`,
    ...renderArchive(r),
    renderSince(r.since_backup, 'was'),
    ...renderChanges(r.changes),
    `  safety backup: ${r.safety_backup ? `${r.safety_backup.id} (${r.safety_backup.path})${r.safety_backup.pending ? ', being written from the previous state in the background' : ''}` : 'none'}`,
    `  time: ${(t.total_ms / 1000).toFixed(1)}s (extract ${(t.extract_ms / 1000).toFixed(1)}s, checks ${(t.db_check_ms / 1000).toFixed(1)}s, fsync ${(t.fsync_ms / 1000).toFixed(1)}s, swap ${(t.swap_ms / 1000).toFixed(1)}s)`,
    daemon ? `The daemon (pid ${daemon.pid}) restored it and serves the restored state.` : 'Start the daemon with `hoziron start`.',
  ];
}

type RestoreFlags = { confirm?: boolean; verify: boolean; checksum?: string; json?: boolean; identity?: string } & PassphraseFlags;

export function registerBackupRestore(program: Command, app: App): void {
  addDecryptOptions(
    backupCommand(program)
      .command('restore <id|file>')
      .description('restore the home from a backup (a dry run unless --confirm)')
      .option('--confirm', 'actually restore (without it: verify and show what would change)')
      .option('--no-verify', 'skip the whole-archive checksum (every entry is still checked)')
      .option(
        '--checksum <sha256:hex>',
        'verify the archive against this checksum (e.g. published beside a download) instead of its .sha256',
      ),
  )
    .option('--json', 'print the plan or the result as one JSON document')
    .action(async (source: string, opts: RestoreFlags) => {
      const { home, cfg: loaded } = await app.open();
      const { restoreFromCli } = await import('../../daemon/cli-restore.js');
      const { withIdentityFile, withPassphraseIdentity } = await import('../../backup/archive-keys.js');
      const passphrase = await commandPassphrase(app, opts, false);
      const cfg = passphrase ? withPassphraseIdentity(loaded, passphrase) : withIdentityFile(loaded, opts.identity);
      // Not in the storage path but on the remote: fetched first, verified as it streams.
      // A restore's safety backup still being made is never on the remote: the restore waits for it.
      const { ensureLocalBackup } = await import('../../backup/remote-catalog.js');
      const { listPendingSafety } = await import('../../backup/safety-point.js');
      const pendingSafety = (await listPendingSafety(home, cfg)).some((r) => r.id.startsWith(source));
      if (!pendingSafety) await ensureLocalBackup(home, cfg, source, { actor: 'cli', onWarning: (m) => app.warn(m) });
      const progress = await startProgress(opts.confirm ? 'Restoring' : 'Verifying', {
        json: opts.json,
        phase: opts.confirm ? 'stage' : 'verify',
      });
      let shown = opts.confirm ? 'stage' : 'verify';
      let done: { outcome: RestorePlan | RestoreResult; daemon?: { pid: number } };
      try {
        done = await restoreFromCli(home, cfg, {
          source,
          confirm: opts.confirm === true,
          verify: opts.verify,
          checksum: opts.checksum,
          onProgress: (phase, n, total) => {
            // The core's 'verify' is the staging of a confirmed restore (extraction with every check).
            const next = phase === 'safety-backup' ? 'safety backup' : phase === 'verify' ? (opts.confirm ? 'stage' : 'verify') : phase;
            if (next !== shown) progress.phase(next, next === 'swap' ? 'steps' : 'bytes');
            shown = next;
            progress.update(n, total);
          },
          onWarning: opts.json ? undefined : (m) => app.warn(m),
          onDelegate: (d) => {
            progress.stop();
            if (!opts.json) app.print(`The daemon (pid ${d.pid}) runs on this home: restoring through it (http://${d.address}).`);
          },
        });
      } finally {
        progress.stop();
      }
      const { outcome } = done;
      if (opts.json) app.printJson(outcome);
      else app.print(outcome.dry_run ? renderPlan(outcome) : renderResult(outcome, done.daemon));
      if (outcome.dry_run && !outcome.restorable) {
        app.stderr.write(`error: a restore would be refused: ${printableLine(outcome.refusal ?? '')}\n`);
        process.exitCode = 1;
      }
    });
}
