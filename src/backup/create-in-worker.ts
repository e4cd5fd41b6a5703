/**
 * `createBackupInWorker`: `createBackup` in a worker thread, for the daemon. Create reads
 * small files with synchronous calls (the fastest way for the one-shot CLI), which on the
 * daemon's thread would stall every request for as long as a backup runs; in a worker the
 * event loop keeps serving. The semantics are `createBackup`'s: the same function runs in
 * the worker (audit event, retention) with the caller's config, warnings and progress come
 * back as messages, and a failure comes back as a `HozironError` with the same code,
 * message, hint and remedy, so the daemon's error handler answers exactly as it would inline.
 *
 * The backup lock is taken here, on the calling thread, so it is released whatever becomes
 * of the worker. Crash safety: the worker writes only what `createBackup` writes, under
 * temporary names until the archive is complete. Those names carry this process's stamp,
 * which is alive, so `removeLeftovers` would spare them if the worker died without answering:
 * they are removed here, still under the lock. If the whole process dies, the next backup
 * command removes them as after any crash.
 */
import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { BackupRecord, PruneEntry } from '../api/types.js';
import { isOwnTempName, tempOwner } from '../fsutil/temp.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { preRestoreDir } from './catalog.js';
import { lockOperation, type CreateOptions } from './create.js';
import { withBackupLock } from './lock.js';
import { ensureStorage } from './storage.js';
import { runWorker } from './worker-runner.js';

/** What the worker is given (plain data: it is cloned into the worker). */
export interface CreateWorkerJob {
  homeRoot: string;
  cfg: LoadedConfig;
  opts: Omit<CreateOptions, 'onProgress' | 'onWarning' | 'onPruned'>;
  /** Whether the caller listens to progress (otherwise none is posted). */
  progress: boolean;
}

/** What the worker tells while it runs; its answer is the `BackupRecord`. */
export type CreateWorkerNote =
  { type: 'warning'; message: string } | { type: 'progress'; done: number; total: number } | { type: 'pruned'; entry: PruneEntry };

const CREATE_WORKER = new URL('./create-worker.js', import.meta.url);

/** Create one backup archive in a worker thread (see the module header). */
export async function createBackupInWorker(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: CreateOptions,
  /** The worker script; tests substitute one. */
  entry: URL = CREATE_WORKER,
): Promise<BackupRecord> {
  const run = () => runCreateWorker(home, cfg, opts, entry);
  if (opts.lockHeld) return run();
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, lockOperation(opts), run);
}

async function runCreateWorker(home: HomeLayout, cfg: LoadedConfig, opts: CreateOptions, entry: URL): Promise<BackupRecord> {
  const { onProgress, onWarning, onPruned, ...plain } = opts;
  const job: CreateWorkerJob = { homeRoot: home.root, cfg, opts: { ...plain, lockHeld: true }, progress: onProgress !== undefined };
  const dirs = tempDirs(home, cfg, opts);
  const before = new Set((await Promise.all(dirs.map(backupTempFilesIn))).flat());
  // Only a worker that died without answering leaves files: one that failed has removed its own.
  const removeWhatItLeft = async () => {
    for (const path of (await Promise.all(dirs.map(backupTempFilesIn))).flat()) {
      if (!before.has(path)) await fs.rm(path, { force: true, recursive: true });
    }
  };
  return runWorker<CreateWorkerJob, BackupRecord, CreateWorkerNote>(entry, job, {
    stopped: 'the backup stopped',
    hint: 'run the backup again; see the daemon log',
    onNote: (m) => {
      if (m.type === 'warning') onWarning?.(m.message);
      else if (m.type === 'progress') onProgress?.(m.done, m.total);
      else onPruned?.(m.entry);
    },
    cleanup: removeWhatItLeft,
  }).result;
}

/** The directories a backup writes temporary files in. */
function tempDirs(home: HomeLayout, cfg: LoadedConfig, opts: CreateOptions): string[] {
  // An encrypted create takes its database snapshots in the home's run/ (create.ts).
  const dirs = new Set([cfg.storageDir, preRestoreDir(cfg), home.runDir]);
  if (opts.output) dirs.add(dirname(resolve(opts.output)));
  return [...dirs];
}

const CREATE_TEMP_SUFFIX = /\.(body|tar\.gz|db(-journal|-wal|-shm)?)$/;
const SIDECAR_TEMP = /^\.(.+\.tar\.gz(?:\.age)?)\.(sha256|json)\.tmp-/;

/**
 * Temporary files of this process in `dir` of the kinds a create writes: the archive's body
 * and final file, database snapshots, and the sidecars of an archive not (yet) in place.
 * Other operations' temporary files (a verify's staging directory) are not among them.
 */
async function backupTempFilesIn(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const present = new Set(names);
  return names
    .filter((name) => {
      if (!isOwnTempName(name)) return false;
      if (tempOwner(name)) return CREATE_TEMP_SUFFIX.test(name);
      const m = SIDECAR_TEMP.exec(name);
      return m !== null && !present.has(m[1]!);
    })
    .map((name) => join(dir, name));
}
