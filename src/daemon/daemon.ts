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
import { refuseWhileRestoring } from './start-guard.js';

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

/**
 * Signal handling from the moment the lock is held: a signal that arrives while starting is
 * remembered and honoured once the daemon is up (stopping it cleanly) rather than killing it
 * half-started. A second Ctrl-C means "now": exit without waiting. Only temporary files can
 * be left (a shutdown backup's archive appears only when complete), and the WAL keeps every
 * commit.
 */
class SignalGate {
  private stopFn: ((reason: string) => Promise<void>) | undefined;
  private requested: string | undefined;
  stopping = false;

  constructor(
    private readonly home: HomeLayout,
    private readonly log: DaemonLog,
    private readonly enabled: boolean,
  ) {
    if (enabled) {
      process.on('SIGTERM', this.onTerm);
      process.on('SIGINT', this.onInt);
    }
  }

  private readonly onTerm = () => {
    if (!this.stopFn) return void (this.requested ??= 'SIGTERM');
    if (this.stopping) this.log.info('SIGTERM: already stopping (waiting for requests and the shutdown backup)');
    void this.stopFn('SIGTERM');
  };

  private readonly onInt = () => {
    if (!this.stopFn) return void (this.requested ??= 'SIGINT');
    if (this.stopping) {
      this.log.warn('SIGINT again: exiting at once; the shutdown backup (if any) is abandoned');
      releaseDaemonLock(this.home);
      process.exit(130);
    }
    void this.stopFn('SIGINT');
  };

  /** The daemon is up: route signals to `stop`, and honour one that came while starting. */
  ready(stop: (reason: string) => Promise<void>): void {
    this.stopFn = stop;
    if (this.requested) void stop(this.requested);
  }

  remove(): void {
    if (!this.enabled) return;
    process.off('SIGTERM', this.onTerm);
    process.off('SIGINT', this.onInt);
  }
}

/** Open the stores, build the server with every service's routes and listen. */
async function listen(ctx: DaemonContext, services: DaemonService[]): Promise<ReturnType<typeof buildServer>> {
  const { host, port } = ctx.cfg.listen;
  let app: ReturnType<typeof buildServer> | undefined;
  try {
    ctx.openStores();
    const routes: RouteRegistrar[] = [];
    for (const s of services) {
      const r = s.prepare?.(ctx);
      if (r) routes.push(r);
    }
    app = buildServer(ctx, routes);
    await app.listen({ host, port });
    return app;
  } catch (err) {
    await app?.close().catch(() => undefined);
    ctx.closeStores();
    if (!app) throw err; // not a listen failure: opening the stores or building the routes
    if (errnoCode(err) === 'EADDRINUSE') {
      throw new HozironError(
        'conflict',
        `cannot listen on ${host}:${port}: address already in use`,
        ctx.cfg.listenSource === 'HOZIRON_LISTEN'
          ? 'change HOZIRON_LISTEN, or stop what uses that port'
          : 'change [server] listen in config.toml, or stop what uses that port',
      );
    }
    throw new HozironError('io', `cannot listen on ${host}:${port}: ${(err as Error).message}`);
  }
}

export async function runDaemon(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: { log?: DaemonLog; services?: DaemonService[]; handleSignals?: boolean } = {},
): Promise<RunningDaemon> {
  const log = opts.log ?? new DaemonLog();
  const services = opts.services ?? [];
  await acquireDaemonLock(home);
  try {
    await refuseWhileRestoring(home); // after the lock: see start-guard.ts
  } catch (err) {
    releaseDaemonLock(home);
    throw err;
  }
  const signals = new SignalGate(home, log, opts.handleSignals ?? false);
  const ctx = new DaemonContext(home, cfg, log);
  let server: ReturnType<typeof buildServer>;
  try {
    server = await listen(ctx, services);
  } catch (err) {
    releaseDaemonLock(home);
    signals.remove();
    throw err;
  }
  const address = formatAddress(server.server.address() as AddressInfo);
  await writePidFile(home, { pid: process.pid, address, started_at: ctx.startedAt.toISOString() });
  log.info(`hoziron daemon ${process.pid} listening on http://${address} (home ${home.root})`);
  for (const s of services) await s.start?.(ctx);

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    signals.stopping = true;
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
      signals.remove();
      resolveStopped();
    })();
    return stopping;
  };
  signals.ready(stop);
  return { address, pid: process.pid, stopped, stop };
}
