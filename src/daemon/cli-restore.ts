/**
 * A restore asked for on the command line, wherever it must run. No acknowledged write may be
 * lost, so a confirmed restore never swaps the databases from under a running daemon:
 * - no daemon runs: the restore runs in this process (`restoreBackup`, which checks for a
 *   daemon again after claiming its work area; a daemon checks for that work area after
 *   taking its lock, so one of the two backs off: start-guard.ts);
 * - a daemon runs (or started while this restore was being prepared): the restore is posted
 *   to it (`POST /v1/backup/restore`) with a one-shot local credential (local-credential.ts),
 *   so the daemon gates its routes (503 with Retry-After), closes its databases, restores and
 *   reopens them: every write it acknowledged before is in the safety backup, every write it
 *   acknowledges after is in the restored state;
 * - a daemon runs but cannot be reached: refused, nothing changed.
 * An encrypted archive is decrypted with the identity file this CLI resolved, in whichever
 * process restores (the daemon is handed its path, never its contents). A passphrase is never
 * handed to the daemon: a confirmed restore with one is refused while a daemon runs.
 * A dry run changes nothing, so it always runs here; with a daemon running it says that the
 * confirmed restore will go through it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { RestorePlan, RestoreResult } from '../api/restore.js';
import { postJson } from '../api/client.js';
import type { BackupRestoreRequest } from '../api/daemon.js';
import { ENCRYPTED_SUFFIX, PLAIN_SUFFIX } from '../backup/archive-keys.js';
import { restoreBackup, type RestoreOptions } from '../backup/restore.js';
import { HozironError, isHozironError } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { readDaemonStatus } from '../home/run.js';
import { mintLocalCredential } from './local-credential.js';

export type CliRestoreOptions = Pick<RestoreOptions, 'source' | 'confirm' | 'verify' | 'checksum' | 'onProgress' | 'onWarning'> & {
  /** Called when the restore is handed to the running daemon, before it is sent. */
  onDelegate?: (daemon: { pid: number; address: string }) => void;
};

export interface CliRestoreOutcome {
  outcome: RestorePlan | RestoreResult;
  /** The daemon that did the restore, when it was not this process. */
  daemon?: { pid: number; address: string };
}

/** How long to wait for a starting daemon (lock held, pid file not yet written) to publish its address. */
const ADDRESS_WAIT_MS = 10_000;

async function daemonAddress(home: HomeLayout): Promise<{ pid: number; address: string } | undefined> {
  const deadline = Date.now() + ADDRESS_WAIT_MS;
  for (;;) {
    const s = readDaemonStatus(home);
    if (!s.running || s.pid === undefined) return undefined;
    if (s.address) return { pid: s.pid, address: s.address };
    if (Date.now() > deadline) {
      throw new HozironError(
        'daemon_unreachable',
        `refusing to restore: the daemon (pid ${s.pid}) holds the home but has not published its address`,
        'see run/daemon.log',
        { remedy: 'daemon_status', details: { log: home.daemonLog } },
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The request body naming `source` as the CLI means it: a path (resolved here) or a backup id;
 * with the identity file this CLI resolved (`--identity`, HOZIRON_BACKUP_IDENTITY,
 * identity_file), so the daemon decrypts with the identity the operator gave, not its own.
 */
function requestFor(source: string, verify: boolean, checksum: string | undefined, identityFile: string | undefined): BackupRestoreRequest {
  const looksLikePath = isAbsolute(source) || source.includes('/') || source.endsWith(PLAIN_SUFFIX) || source.endsWith(ENCRYPTED_SUFFIX);
  return {
    ...(looksLikePath ? { file: resolve(source) } : { id: source }),
    ...(verify ? {} : { verify: false }),
    ...(checksum === undefined ? {} : { checksum }),
    ...(identityFile !== undefined ? { identity_file: resolve(identityFile) } : {}),
  };
}

async function restoreThroughDaemon(
  home: HomeLayout,
  daemon: { pid: number; address: string },
  cfg: LoadedConfig,
  opts: CliRestoreOptions,
): Promise<CliRestoreOutcome> {
  if (cfg.encryption.passphraseIdentity) {
    throw new HozironError(
      'daemon_running',
      `refusing to restore: the daemon (pid ${daemon.pid}) runs on this home and a passphrase is never handed to it; nothing was changed`,
      'stop the daemon, then run the restore again',
    );
  }
  opts.onDelegate?.(daemon);
  const credential = await mintLocalCredential(home);
  try {
    const outcome = await postJson<RestoreResult>(
      daemon.address,
      '/v1/backup/restore',
      credential.token,
      requestFor(opts.source, opts.verify, opts.checksum, cfg.encryption.identityFile),
    );
    return { outcome, daemon };
  } finally {
    await credential.dispose();
  }
}

export async function restoreFromCli(home: HomeLayout, cfg: LoadedConfig, opts: CliRestoreOptions): Promise<CliRestoreOutcome> {
  const local: RestoreOptions = {
    source: opts.source,
    confirm: opts.confirm,
    verify: opts.verify,
    checksum: opts.checksum,
    actor: 'cli',
    onProgress: opts.onProgress,
    onWarning: opts.onWarning,
  };
  const daemon = await daemonAddress(home);
  if (!opts.confirm) {
    if (daemon) {
      opts.onWarning?.(
        `the daemon (pid ${daemon.pid}) runs on this home: a confirmed restore goes through it, and it answers other requests with 503 until the restore is done`,
      );
    }
    return { outcome: await restoreBackup(home, cfg, { ...local, daemonCheck: false }) };
  }
  if (daemon) return restoreThroughDaemon(home, daemon, cfg, opts);
  try {
    return { outcome: await restoreBackup(home, cfg, local) };
  } catch (err) {
    // A daemon started while this restore was being prepared: nothing was changed here.
    const started = isHozironError(err) && err.code === 'daemon_running' ? await daemonAddress(home) : undefined;
    if (!started) throw err;
    return restoreThroughDaemon(home, started, cfg, opts);
  }
}
