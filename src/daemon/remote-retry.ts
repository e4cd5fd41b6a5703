/**
 * The daemon's retry of failed uploads ([backup.remote]): every 30 s it looks at
 * run/remote-state.json and, once the backoff of the last failure has passed (1 minute,
 * doubling to an hour; backup/remote-state.ts), uploads the pending archives under the backup
 * lock. It never runs beside a backup or a restore of this daemon, and a held lock (a CLI
 * operation) just means later. Outcomes go to the log and the state file like any upload.
 */
import { retryPendingUploads } from '../backup/offsite.js';
import type { BackupRunner } from './backup-runner.js';
import type { DaemonContext } from './context.js';

const TICK_MS = 30_000;

export class RemoteRetry {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly ctx: DaemonContext,
    private readonly runner: BackupRunner,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running || this.runner.running || this.ctx.restoring) return;
    const { home, cfg, log } = this.ctx;
    this.running = retryPendingUploads(home, cfg, { actor: 'daemon:retry', onWarning: (m) => log.warn(`upload retry: ${m}`) })
      .then((r) => {
        if (r && r.uploaded.length > 0) log.info(`upload retry: uploaded ${r.uploaded.join(', ')} to ${r.remote}`);
      })
      .catch((err: unknown) => log.warn(`upload retry: ${(err as Error).message}`))
      .finally(() => (this.running = undefined));
    await this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
