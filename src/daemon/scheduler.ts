/**
 * `[backup] schedule`: a 5-field cron expression, evaluated in UTC by croner, that runs full
 * backups (retention is applied by `createBackup` after each success). An invalid expression
 * never gets here: `loadConfig` refuses it, so the daemon does not start.
 * Missed slots: at start, the most recent slot before now is compared with the later of the
 * last slot the daemon handled (run/backup-state.json) and the newest regular archive; if
 * the slot is newer, it was missed while the daemon was down and one backup runs shortly
 * after start (once, however many slots were missed). With no history at all (a new home)
 * nothing is run; the current slot becomes the baseline.
 */
import { Cron } from 'croner';
import { listBackups } from '../backup/catalog.js';
import type { BackupRunner } from './backup-runner.js';
import type { DaemonContext } from './context.js';

/** Delay before a missed slot's backup, so start-up finishes and health answers first. */
const MISSED_SLOT_DELAY_MS = 3000;

export class BackupScheduler {
  private cron: Cron | undefined;
  private catchUp: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: DaemonContext,
    private readonly runner: BackupRunner,
  ) {}

  get expression(): string {
    return this.ctx.cfg.config.backup.schedule;
  }

  nextRun(): Date | null {
    return this.cron?.nextRun() ?? null;
  }

  /** (Re)arm the schedule from the current config; also after a live restore replaced it. */
  async start(): Promise<void> {
    this.stop();
    const expr = this.expression;
    if (expr === '') {
      this.ctx.log.info('backup schedule: off ([backup] schedule = "")');
      return;
    }
    this.cron = new Cron(expr, { timezone: 'UTC', protect: true, catch: true }, async (self: Cron) => {
      const slot = self.currentRun() ?? new Date();
      await this.runner.markSlot(slot);
      await this.runner.run('schedule', 'full', 'daemon:schedule').catch(() => undefined);
    });
    this.ctx.log.info(`backup schedule: "${expr}" (UTC), next run ${this.nextRun()?.toISOString() ?? 'never'}`);
    await this.checkMissedSlot();
  }

  stop(): void {
    this.cron?.stop();
    this.cron = undefined;
    if (this.catchUp) clearTimeout(this.catchUp);
    this.catchUp = undefined;
  }

  private async checkMissedSlot(): Promise<void> {
    const prev = this.cron?.previousRuns(1, new Date())[0];
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
