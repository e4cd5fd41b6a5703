/**
 * The daemon's backup service: the runner (every backup the daemon takes), the schedule,
 * the backup routes and `backup_on_shutdown`. On stop (after the server has stopped taking
 * requests) it disarms the schedule, waits for a running backup and, if configured, takes
 * the shutdown backup before the databases are closed — `hoziron stop` waits for it. It also
 * feeds health its reasons to be degraded (health-monitor.ts) and checks the storage at start.
 * The metrics (which observe the runner) are loaded once the daemon listens.
 */
import { checkStorage } from '../backup/storage-check.js';
import { BackupRunner } from './backup-runner.js';
import { clockFromEnv } from './clock.js';
import type { DaemonContext } from './context.js';
import type { DaemonService } from './daemon.js';
import { HealthMonitor } from './health-monitor.js';
import { DaemonMetrics } from './metrics.js';
import { backupRoutes } from './routes/backup.js';
import { backupRemoteRoutes } from './routes/backup-remote.js';
import { registerBackupDownloadRoutes } from './routes/backup-download.js';
import { restoreRoutes } from './routes/backup-restore.js';
import { metricsRoutes } from './routes/metrics.js';
import { RemoteRetry } from './remote-retry.js';
import { BackupScheduler } from './scheduler.js';

export function createBackupService(): DaemonService {
  let runner: BackupRunner | undefined;
  let scheduler: BackupScheduler | undefined;
  let metrics: DaemonMetrics | undefined;
  let retry: RemoteRetry | undefined;
  return {
    name: 'backups',
    prepare(ctx: DaemonContext) {
      runner = new BackupRunner(ctx);
      retry = new RemoteRetry(ctx, runner);
      const clock = clockFromEnv();
      scheduler = new BackupScheduler(ctx, runner, clock);
      const health = new HealthMonitor(ctx, runner, clock);
      ctx.healthReasons = () => health.reasons();
      const backup = backupRoutes(runner, scheduler);
      const restore = restoreRoutes(runner, scheduler);
      const metered = metricsRoutes(() => metrics);
      const remote = backupRemoteRoutes();
      return (app, c) => {
        backup(app, c);
        remote(app, c);
        restore(app, c);
        registerBackupDownloadRoutes(app, c);
        metered(app, c);
      };
    },
    async start(ctx: DaemonContext) {
      // A storage problem does not stop the daemon: it serves the platform's state, which must
      // not go down with the backup target. It is logged and makes health degraded until fixed.
      const storage = await checkStorage(ctx.cfg.storageDir);
      if (!storage.ok) ctx.log.warn(`backup storage: ${storage.error}; backups will fail and health is degraded until it is fixed`);
      try {
        metrics = await DaemonMetrics.create(ctx, runner!);
      } catch (err) {
        ctx.log.error(`metrics: ${(err as Error).message}`);
      }
      await scheduler!.start();
      retry!.start();
    },
    async stop(ctx: DaemonContext) {
      scheduler?.stop();
      await retry?.stop();
      await runner?.waitIdle();
      if (runner && ctx.cfg.config.backup.backup_on_shutdown) {
        ctx.log.info('backup_on_shutdown: taking a backup before exit');
        await runner.run('shutdown', 'full', 'daemon:shutdown').catch(() => undefined);
      }
    },
  };
}
