/**
 * `[backup] schedule`: a 5-field cron expression, evaluated in UTC by croner, that runs full
 * backups (retention is applied by `createBackup` after each success). An invalid expression
 * never gets here: `loadConfig` refuses it, so the daemon does not start.
 * Missed slots: at start, the most recent slot before now is compared with the later of the
 * last slot the daemon handled (run/backup-state.json) and the newest regular archive; if
 * the slot is newer, it was missed while the daemon was down and one backup runs shortly
 * after start (once, however many slots were missed). With no history at all (a new home)
 * nothing is run; the current slot becomes the baseline.
 * Timing: croner only computes slots; the scheduler arms one timer for the next slot by its
 * clock (`clock.ts`), runs the backup, then arms the following slot after the run ends, so
 * runs never overlap (a slot that passes during a long backup is skipped, not queued).
 */
import { Cron } from 'croner';
import { listBackups } from '../backup/catalog.js';
import type { BackupRunner } from './backup-runner.js';
import { systemClock, type Clock } from './clock.js';
import type { DaemonContext } from './context.js';

/** Delay before a missed slot's backup, so start-up finishes and health answers first. */
const MISSED_SLOT_DELAY_MS = 3000;
/** setTimeout's longest delay; a later slot is reached by re-arming. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class BackupScheduler {
  private cron: Cron | undefined;
  private timer: NodeJS.Timeout | undefined;
  private next: Date | null = null;
  private catchUp: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: DaemonContext,
    private readonly runner: BackupRunner,
    private readonly clock: Clock = systemClock,
  ) {}

  get expression(): string {
    return this.ctx.cfg.config.backup.schedule;
  }

  nextRun(): Date | null {
    return this.next;
  }

  /** (Re)arm the schedule from the current config; also after a live restore replaced it. */
  async start(): Promise<void> {
    this.stop();
    const expr = this.expression;
    if (expr === '') {
      this.ctx.log.info('backup schedule: off ([backup] schedule = "")');
      return;
    }
    // Paused: croner computes the slots, the timer below runs them by our clock.
    this.cron = new Cron(expr, { timezone: 'UTC', paused: true });
    this.arm(this.clock.now());
    this.ctx.log.info(`backup schedule: "${expr}" (UTC), next run ${this.nextRun()?.toISOString() ?? 'never'}`);
    await this.checkMissedSlot();
  }

  stop(): void {
    this.cron = undefined;
    this.next = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.catchUp) clearTimeout(this.catchUp);
    this.catchUp = undefined;
  }

  /** Arm the timer for the first slot after `after` (ms since the epoch). */
  private arm(after: number): void {
    const cron = this.cron;
    this.next = cron?.nextRun(new Date(after)) ?? null;
    if (!cron || !this.next) return;
    const slot = this.next;
    const wait = Math.min(Math.max(0, slot.getTime() - this.clock.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.cron !== cron) return; // stopped or re-armed meanwhile
      if (this.clock.now() < slot.getTime()) return this.arm(this.clock.now()); // a long wait, in steps
      void this.runSlot(slot).finally(() => {
        if (this.cron === cron) this.arm(Math.max(this.clock.now(), slot.getTime()));
      });
    }, wait);
    this.timer.unref();
  }

  private async runSlot(slot: Date): Promise<void> {
    await this.runner.markSlot(slot);
    // The runner logs and records a failed backup itself (run/backup-state.json).
    await this.runner.run('schedule', 'full', 'daemon:schedule').catch(() => undefined);
  }

  private async checkMissedSlot(): Promise<void> {
    const prev = this.cron?.previousRuns(1, new Date(this.clock.now()))[0];
    if (!prev) return;
    const known: number[] = [];
    if (this.runner.state.last_slot) known.push(Date.parse(this.runner.state.last_slot));
    try {
      const newest = (await listBackups(this.ctx.cfg)).find((r) => r.scope !== 'pre-restore');
      if (newest) known.push(Date.parse(newest.created_at));
    } catch (err) {
      this.ctx.log.warn(`backup schedule: cannot list backups to look for a missed slot: ${(err as Error).message}`);
    }
    if (known.length === 0) {
      await this.runner.markSlot(prev); // a new home: start counting from here
      return;
    }
    if (Math.max(...known) >= prev.getTime()) return;
    this.ctx.log.info(
      `backup schedule: the slot of ${prev.toISOString()} was missed while the daemon was down; backing up in ${MISSED_SLOT_DELAY_MS / 1000}s`,
    );
    this.catchUp = setTimeout(() => {
      this.catchUp = undefined;
      void this.runner
        .markSlot(prev)
        .then(() => this.runner.run('missed-schedule', 'full', 'daemon:schedule'))
        .catch(() => undefined);
    }, MISSED_SLOT_DELAY_MS);
    this.catchUp.unref();
  }
}
