/**
 * What makes `GET /v1/health` say `degraded`: the backups are failing or at risk, though the
 * daemon still serves (so the answer stays HTTP 200, and probes that restart on failure do
 * not restart a daemon whose storage is full). Reasons, each with a stable code:
 * - `scheduled_backup_failed`: the schedule's last attempt failed and no backup (of any
 *   trigger) has succeeded since; a later success clears it;
 * - `backup_stale`: with a schedule, the newest regular backup is older than two periods by the
 *   daemon's clock (with none at all, counted from the daemon's start);
 * - `storage_missing` / `storage_unwritable`: a file cannot be created in the storage path.
 * Messages name no paths: health answers without a token; `GET /v1/backup/status` has the
 * details. The storage listing is cached briefly (a probe every few seconds must not rescan a
 * large storage directory); the daemon's own last success is always taken into account.
 */
import type { HealthReason } from '../api/daemon.js';
import { listBackups } from '../backup/catalog.js';
import { describeAge, schedulePeriodMs } from '../backup/schedule-period.js';
import { checkStorage } from '../backup/storage-check.js';
import { remoteConfigured } from '../backup/remote-catalog.js';
import { readRemoteState } from '../backup/remote-state.js';
import type { BackupRunner } from './backup-runner.js';
import type { Clock } from './clock.js';
import type { DaemonContext } from './context.js';

const LISTING_TTL_MS = 30_000;

export class HealthMonitor {
  private listed: { at: number; newest: number | undefined } | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly ctx: DaemonContext,
    private readonly runner: BackupRunner,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  async reasons(): Promise<HealthReason[]> {
    const reasons: HealthReason[] = [];
    const storage = await checkStorage(this.ctx.cfg.storageDir);
    if (!storage.ok) {
      reasons.push(
        storage.problem === 'missing'
          ? { code: 'storage_missing', message: 'the backup storage path does not exist (details: GET /v1/backup/status)' }
          : { code: 'storage_unwritable', message: 'the backup storage path is not writable (details: GET /v1/backup/status)' },
      );
    }
    const failed = this.failedSchedule();
    if (failed) reasons.push(failed);
    const stale = await this.staleness(storage.ok);
    if (stale) reasons.push(stale);
    const upload = this.failedUpload();
    if (upload) reasons.push(upload);
    return reasons;
  }

  /** `upload_failed`: with a remote, the last upload attempt failed (cleared by a later success). */
  private failedUpload(): HealthReason | undefined {
    if (!remoteConfigured(this.ctx.cfg)) return undefined;
    const s = readRemoteState(this.ctx.home);
    if (!s.last_attempt || s.last_attempt.ok) return undefined;
    return {
      code: 'upload_failed',
      message: `the upload to the remote at ${s.last_attempt.at} failed; ${s.pending.length} backup(s) wait to be uploaded (details: GET /v1/backup/status)`,
    };
  }

  private failedSchedule(): HealthReason | undefined {
    const { last_scheduled: attempt, last_success: success } = this.runner.state;
    if (!attempt || attempt.ok) return undefined;
    if (success && Date.parse(success.at) >= Date.parse(attempt.at)) return undefined;
    return {
      code: 'scheduled_backup_failed',
      message: `the scheduled backup started at ${attempt.at} failed, and none has succeeded since (details: GET /v1/backup/status)`,
    };
  }

  /** Milliseconds since the epoch of the newest regular backup, from a recent listing and the daemon's own record. */
  private async newestBackup(storageOk: boolean): Promise<number | undefined> {
    const now = Date.now();
    if (storageOk && (!this.listed || now - this.listed.at > LISTING_TTL_MS)) {
      try {
        const newest = (await listBackups(this.ctx.cfg)).find((r) => r.scope !== 'pre-restore');
        this.listed = { at: now, newest: newest ? Date.parse(newest.created_at) : undefined };
      } catch {
        this.listed = undefined; // storage trouble is reported by its own reason
      }
    }
    const own = this.runner.state.last_success ? Date.parse(this.runner.state.last_success.at) : undefined;
    const known = [this.listed?.newest, own].filter((t): t is number => t !== undefined);
    return known.length > 0 ? Math.max(...known) : undefined;
  }

  private async staleness(storageOk: boolean): Promise<HealthReason | undefined> {
    const now = this.clock.now();
    const period = schedulePeriodMs(this.ctx.cfg.config.backup.schedule, new Date(now));
    if (period === undefined) return undefined;
    const newest = await this.newestBackup(storageOk);
    const since = newest ?? this.startedAt;
    if (now - since <= 2 * period) return undefined;
    const age = describeAge(now - since);
    return {
      code: 'backup_stale',
      message:
        newest === undefined
          ? `no backup yet, ${age} after the daemon started: more than two schedule periods (${describeAge(period)} each)`
          : `the newest backup is ${age} old: more than two schedule periods (${describeAge(period)} each)`,
    };
  }
}
