/**
 * Every backup the daemon takes (API, schedule, missed slot, shutdown) goes through
 * `BackupRunner.run`: the same `createBackup` as the CLI, sharing its lock, so the daemon
 * and the CLI never back up at once. It runs in a worker thread (`createBackupInWorker`):
 * create reads small files synchronously, so on this thread it would stall every request
 * for the length of the backup; in the worker the event loop keeps serving (and the memory
 * database keeps taking writes). Its warnings reach the daemon log. Each attempt and success
 * is recorded in run/backup-state.json for `GET /v1/backup/status` and for missed-slot
 * detection after a restart. `waitIdle` waits for the worker, so a stop waits for a backup.
 * While a backup runs, its threads run at a lower CPU priority than the main thread
 * (thread-priority.ts), so requests keep their latency on a busy machine.
 */
import type { BackupAttempt, BackupTrigger } from '../api/daemon.js';
import type { BackupRecord } from '../api/types.js';
import { createBackupInWorker } from '../backup/create-in-worker.js';
import { readBackupState, writeBackupState, type BackupState } from './backup-state.js';
import { busy, type DaemonContext } from './context.js';
import { backgroundPriorityWhile } from './thread-priority.js';

/** One finished attempt, as the runner's observers (the metrics) see it. */
export interface BackupOutcome {
  trigger: BackupTrigger;
  ok: boolean;
  /** When the attempt started (ms since the epoch) and how long it took. */
  startedMs: number;
  durationMs: number;
  record?: BackupRecord;
}

export class BackupRunner {
  private readonly active = new Set<Promise<unknown>>();
  private readonly observers: ((outcome: BackupOutcome) => void)[] = [];
  state: BackupState;

  constructor(private readonly ctx: DaemonContext) {
    this.state = readBackupState(ctx.home);
  }

  get running(): boolean {
    return this.active.size > 0;
  }

  /** Be told of every finished attempt (an observer that throws is ignored). */
  observe(fn: (outcome: BackupOutcome) => void): void {
    this.observers.push(fn);
  }

  private report(outcome: BackupOutcome): void {
    for (const fn of this.observers) {
      try {
        fn(outcome);
      } catch {
        /* an observer must not fail a backup */
      }
    }
  }

  async run(trigger: BackupTrigger, scope: 'full' | 'agents', actor: string): Promise<BackupRecord> {
    if (this.ctx.restoring) throw busy();
    const startedMs = Date.now();
    const at = new Date(startedMs).toISOString();
    const { home, cfg, log } = this.ctx;
    log.info(`backup (${trigger}, ${scope}) started`);
    // The backup's threads yield the CPU to the main thread, which serves requests (thread-priority.ts).
    const stopLowering = backgroundPriorityWhile();
    const job = createBackupInWorker(home, cfg, {
      scope,
      actor,
      onWarning: (m) => log.warn(`backup: ${m}`),
      onPruned: (p) => log.info(`backup: retention deleted ${p.scope} backup ${p.id} (${p.path}): ${p.reason}`),
    });
    this.active.add(job);
    try {
      const record = await job;
      this.record({ at, trigger, ok: true, error: null });
      this.state.last_success = { at: record.created_at, id: record.id, trigger };
      log.info(`backup (${trigger}) done: ${record.id} ${record.path} ${record.size_bytes} bytes`);
      this.report({ trigger, ok: true, startedMs, durationMs: Date.now() - startedMs, record });
      return record;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.record({ at, trigger, ok: false, error: message });
      log.error(`backup (${trigger}) failed: ${message}`);
      this.report({ trigger, ok: false, startedMs, durationMs: Date.now() - startedMs });
      throw err;
    } finally {
      stopLowering();
      this.active.delete(job);
      await this.persist();
    }
  }

  private record(attempt: BackupAttempt): void {
    this.state.last_attempt = attempt;
    if (attempt.trigger === 'schedule' || attempt.trigger === 'missed-schedule') this.state.last_scheduled = attempt;
  }

  /** Record the schedule slot just handled, before its backup runs (a crash never repeats it forever). */
  async markSlot(slot: Date): Promise<void> {
    this.state.last_slot = slot.toISOString();
    await this.persist();
  }

  /** Resolves when no backup of this daemon is running. */
  async waitIdle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  private async persist(): Promise<void> {
    try {
      await writeBackupState(this.ctx.home, this.state);
    } catch (err) {
      this.ctx.log.warn(`cannot record backup state in ${this.ctx.home.backupState}: ${(err as Error).message}`);
    }
  }
}
