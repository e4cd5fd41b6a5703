/**
 * The daemon's life: take the home's daemon lock, open the stores, listen, publish the pid
 * file (with the address actually bound, so port 0 works), then serve until SIGTERM/SIGINT
 * (or `stop()`), when it stops accepting, lets in-flight requests finish, runs the shutdown
 * steps (e.g. the backup_on_shutdown backup), closes the databases and removes its files.
 * Crash safety: killed at any line, the daemon leaves only a lock and a pid file naming a dead
 * pid, which the next start takes over; the databases are SQLite WAL files whose committed
 * transactions survive the crash.
 */
import type { AddressInfo } from 'node:net';
import { HozironError, errnoCode } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { DaemonContext } from './context.js';
import { DaemonLog } from './log.js';
import { acquireDaemonLock, releaseDaemonLock, writePidFile } from './pidfile.js';
import { buildServer, type RouteRegistrar } from './server.js';

/** A part of the daemon with its own start and stop (the scheduler, the backup runner). */
export interface DaemonService {
  name: string;
  /** Called once the context exists, before the server is built; may return its routes. */
  prepare?(ctx: DaemonContext): RouteRegistrar | void;
  /** Called once the server listens and the pid file is written. */
  start?(ctx: DaemonContext): Promise<void> | void;
  /** Called after the server stopped accepting and in-flight requests finished. */
  stop?(ctx: DaemonContext): Promise<void> | void;
}

export interface RunningDaemon {
  address: string;
  pid: number;
  /** Resolves when the daemon has fully stopped. */
  stopped: Promise<void>;
  stop(reason: string): Promise<void>;
}

function formatAddress(info: AddressInfo): string {
  return info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

export async function runDaemon(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: { log?: DaemonLog; services?: DaemonService[]; handleSignals?: boolean } = {},
): Promise<RunningDaemon> {
  const log = opts.log ?? new DaemonLog();
  const services = opts.services ?? [];
  await acquireDaemonLock(home);
  // Signals are handled from here on: one that arrives while starting is honoured as soon
  // as the daemon is up (stopping it cleanly), rather than killing it half-started.
  let stopFn: ((reason: string) => Promise<void>) | undefined;
  let requested: string | undefined;
  let stopping: Promise<void> | undefined;
  const onTerm = () => {
    if (!stopFn) return void (requested ??= 'SIGTERM');
    if (stopping) log.info('SIGTERM: already stopping (waiting for requests and the shutdown backup)');
    void stopFn('SIGTERM');
  };
  // A second Ctrl-C means "now": exit without waiting. Only temporary files can be left
  // (a shutdown backup's archive appears only when complete), and the WAL keeps every commit.
  const onInt = () => {
    if (!stopFn) return void (requested ??= 'SIGINT');
    if (stopping) {
      log.warn('SIGINT again: exiting at once; the shutdown backup (if any) is abandoned');
      releaseDaemonLock(home);
      process.exit(130);
    }
    void stopFn('SIGINT');
  };
  const removeHandlers = () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  };
  if (opts.handleSignals) {
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  }
  const ctx = new DaemonContext(home, cfg, log);
  let app: ReturnType<typeof buildServer> | undefined;
  try {
    ctx.openStores();
    const routes: RouteRegistrar[] = [];
    for (const s of services) {
      const r = s.prepare?.(ctx);
      if (r) routes.push(r);
    }
    app = buildServer(ctx, routes);
    try {
      await app.listen({ host: cfg.listen.host, port: cfg.listen.port });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EADDRINUSE') {
        throw new HozironError(
          'conflict',
          `cannot listen on ${cfg.listen.host}:${cfg.listen.port}: address already in use`,
          'change [server] listen in config.toml, or stop what uses that port',
        );
      }
      throw new HozironError('io', `cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(err as Error).message}`);
    }
  } catch (err) {
    await app?.close().catch(() => undefined);
    ctx.closeStores();
    releaseDaemonLock(home);
    removeHandlers();
    throw err;
  }
  const address = formatAddress(app.server.address() as AddressInfo);
  await writePidFile(home, { pid: process.pid, address, started_at: ctx.startedAt.toISOString() });
  log.info(`hoziron daemon ${process.pid} listening on http://${address} (home ${home.root})`);
  for (const s of services) await s.start?.(ctx);

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const server = app;

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`stopping (${reason}): no new connections; finishing in-flight requests`);
      await server.close();
      for (const s of [...services].reverse()) {
        try {
          await s.stop?.(ctx);
        } catch (err) {
          log.error(`${s.name}: ${(err as Error).message}`);
        }
      }
      ctx.closeStores();
      releaseDaemonLock(home);
      log.info('stopped');
      removeHandlers();
      resolveStopped();
    })();
    return stopping;
  };
  stopFn = stop;
  if (requested) void stop(requested);
  return { address, pid: process.pid, stopped, stop };
}
