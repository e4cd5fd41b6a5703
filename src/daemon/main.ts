/**
 * `hoziron start --foreground`: run the daemon in this process until SIGTERM/SIGINT, with
 * its services (scheduler, shutdown backup). Resolves once the daemon has stopped cleanly.
 */
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { createBackupService } from './backup-service.js';
import { runDaemon } from './daemon.js';
import { DaemonLog } from './log.js';

export async function serveForeground(home: HomeLayout, cfg: LoadedConfig): Promise<void> {
  const log = new DaemonLog(process.stdout);
  const daemon = await runDaemon(home, cfg, { log, handleSignals: true, services: [createBackupService()] });
  await daemon.stopped;
}
