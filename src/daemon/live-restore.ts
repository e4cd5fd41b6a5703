/**
 * `POST /v1/backup/restore` without a restart. The daemon refuses new work (every route but
 * health answers 503 with Retry-After), waits for its own backups, closes its databases
 * (checkpointing their WAL, so no daemon handle points at a file about to be swapped), runs
 * the same `restoreBackup` as the CLI (safety backup, journal, audit) with the daemon check
 * off — the daemon is the one restoring — then reopens the stores, reloads config.toml (a
 * full restore may change it) and re-arms the schedule. Whatever happens, the stores are
 * reopened and the gate lifted, so a failed restore leaves the daemon serving the old state.
 * Crash safety is the restore's own: killed mid-swap, the next command rolls the journal
 * back or forward; the daemon itself holds nothing on disk but its pid and lock files.
 */
import type { RestorePlan, RestoreResult } from '../api/restore.js';
import { withIdentityFile } from '../backup/archive-keys.js';
import { restoreBackup } from '../backup/restore.js';
import { HozironError } from '../errors.js';
import { loadConfig } from '../home/config.js';
import { resolveSource } from './archive-source.js';
import type { BackupRunner } from './backup-runner.js';
import type { DaemonContext } from './context.js';
import type { BackupScheduler } from './scheduler.js';

export interface LiveRestoreRequest {
  id?: string;
  file?: string;
  dry_run?: boolean;
  verify?: boolean;
  checksum?: string;
  /** An identity file (absolute path) to decrypt with; the caller checked it may name one. */
  identity_file?: string;
}

export async function restoreLive(
  ctx: DaemonContext,
  runner: BackupRunner,
  scheduler: BackupScheduler,
  req: LiveRestoreRequest,
  actor: string,
  opts: { anyPath?: boolean } = {},
): Promise<RestorePlan | RestoreResult> {
  const source = await resolveSource(ctx.cfg, req, opts);
  const verify = req.verify !== false;
  const cfg = withIdentityFile(ctx.cfg, req.identity_file);
  if (req.dry_run) {
    return restoreBackup(ctx.home, cfg, { source, confirm: false, verify, checksum: req.checksum, actor, daemonCheck: false });
  }
  if (ctx.restoring) throw new HozironError('conflict', 'a restore is already running');
  if (runner.running)
    throw new HozironError('conflict', 'a backup is running in the daemon; retry when it has finished', 'see GET /v1/backup/status');
  ctx.restoring = true;
  ctx.log.info(`restore of ${source} started: serving 503 until it ends`);
  scheduler.stop();
  try {
    await runner.waitIdle();
    ctx.closeStores();
    const result = await restoreBackup(ctx.home, cfg, {
      source,
      confirm: true,
      verify,
      checksum: req.checksum,
      actor,
      daemonCheck: false,
      onWarning: (m) => ctx.log.warn(`restore: ${m}`),
    });
    ctx.log.info(`restore of ${source} done`);
    return result;
  } catch (err) {
    ctx.log.error(`restore of ${source} failed: ${(err as Error).message}`);
    throw err;
  } finally {
    reload(ctx);
    try {
      ctx.openStores();
    } catch (err) {
      ctx.log.error(`cannot reopen the databases after the restore: ${(err as Error).message}`);
    }
    ctx.restoring = false;
    await scheduler.start().catch((err: unknown) => ctx.log.error(`backup schedule: ${(err as Error).message}`));
  }
}

/** Take in the restored config.toml; the listen address only changes at the next start. */
function reload(ctx: DaemonContext): void {
  try {
    const next = loadConfig(ctx.home);
    for (const w of next.warnings) ctx.log.warn(w);
    const before = ctx.cfg.listen;
    if (next.listen.host !== before.host || next.listen.port !== before.port) {
      ctx.log.warn(`the restored config listens on ${next.listen.host}:${next.listen.port}; it takes effect at the next start`);
    }
    ctx.cfg = next;
  } catch (err) {
    ctx.log.error(`the restored config.toml does not load (${(err as Error).message}); keeping the previous configuration`);
  }
}
