/**
 * What the routes share: the home, its configuration, the open stores and the daemon's mode.
 * The stores are opened once at start and held for the daemon's life, except during a live
 * restore, when they are closed (so the restore can swap the files) and reopened after. A
 * route that asks for a store while they are closed gets `busy` (503), never a closed handle.
 */
import type { HealthReason } from '../api/daemon.js';
import { HozironError } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { KeyStore } from '../stores/keys.js';
import { MemoryStore } from '../stores/memory.js';
import type { DaemonLog } from './log.js';

/** Seconds a client is told to wait while the daemon restores. */
export const RETRY_AFTER_SECONDS = 5;

export class DaemonContext {
  private keyStore: KeyStore | undefined;
  private memoryStore: MemoryStore | undefined;
  /** Set while a live restore runs: every route but health answers 503. */
  restoring = false;
  readonly startedAt = new Date();
  /** Why health is degraded (set by the backup service: health-monitor.ts); none without it. */
  healthReasons: () => Promise<HealthReason[]> = async () => [];

  constructor(
    readonly home: HomeLayout,
    public cfg: LoadedConfig,
    readonly log: DaemonLog,
  ) {}

  openStores(): void {
    this.keyStore ??= KeyStore.open(this.home.keysDb);
    this.memoryStore ??= MemoryStore.open(this.home.memoryDb);
  }

  /** Close both databases (checkpointing the WAL), e.g. before a restore or at exit. */
  closeStores(): void {
    this.memoryStore?.close();
    this.memoryStore = undefined;
    this.keyStore?.close();
    this.keyStore = undefined;
  }

  get keys(): KeyStore {
    if (!this.keyStore) throw busy();
    return this.keyStore;
  }

  get memory(): MemoryStore {
    if (!this.memoryStore) throw busy();
    return this.memoryStore;
  }
}

export function busy(): HozironError {
  return new HozironError('busy', 'the daemon is restoring a backup; retry shortly', `retry after ${RETRY_AFTER_SECONDS} seconds`);
}
