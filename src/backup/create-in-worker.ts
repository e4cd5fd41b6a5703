/**
 * `createBackupInWorker`: `createBackup` in a worker thread, for the daemon. Create reads
 * small files with synchronous calls (the fastest way for the one-shot CLI), which on the
 * daemon's thread would stall every request for as long as a backup runs; in a worker the
 * event loop keeps serving. The semantics are `createBackup`'s: the same function runs in
 * the worker (audit event, retention) with the caller's config, warnings and progress come
 * back as messages, and a failure comes back as a `HozironError` with the same code,
 * message and hint, so the daemon's error handler answers exactly as it would inline.
 *
 * The backup lock is taken here, on the calling thread, so it is released whatever becomes
 * of the worker. Crash safety: the worker writes only what `createBackup` writes, under
 * temporary names until the archive is complete. Those names carry this process's stamp,
 * which is alive, so `removeLeftovers` would spare them if the worker died without answering:
 * they are removed here, still under the lock. If the whole process dies, the next backup
 * command removes them as after any crash.
 */
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackupRecord } from '../api/types.js';
import { HozironError, type ErrorCode } from '../errors.js';
import { isOwnTempName, tempOwner } from '../fsutil/temp.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { preRestoreDir } from './catalog.js';
import { createBackup, lockOperation, type CreateOptions } from './create.js';
import { withBackupLock } from './lock.js';
import { WORKER_LIMITS } from './worker-limits.js';

/** What the worker is given (plain data: it is cloned into the worker). */
export interface CreateWorkerJob {
  homeRoot: string;
  cfg: LoadedConfig;
  opts: Omit<CreateOptions, 'onProgress' | 'onWarning'>;
  /** Whether the caller listens to progress (otherwise none is posted). */
  progress: boolean;
}

/** An error as it crosses the thread boundary. */
export type WorkerError =
  | { kind: 'hoziron'; code: ErrorCode; message: string; hint?: string; stack?: string }
  | {
      kind: 'other';
      name: string;
      message: string;
      stack?: string;
      errno?: { code?: string; errno?: number; syscall?: string; path?: string };
    };

export type CreateWorkerMessage =
  | { type: 'warning'; message: string }
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; record: BackupRecord }
  | { type: 'failed'; error: WorkerError };

/** The compiled worker entry; absent when running from the TypeScript sources (tests). */
export const CREATE_WORKER = new URL('./create-worker.js', import.meta.url);

export function serializeError(err: unknown): WorkerError {
  if (err instanceof HozironError) return { kind: 'hoziron', code: err.code, message: err.message, hint: err.hint, stack: err.stack };
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    return {
      kind: 'other',
      name: e.name,
      message: e.message,
      stack: e.stack,
      errno: { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path },
    };
  }
  return { kind: 'other', name: 'Error', message: String(err) };
}

/** The error the worker threw, as the same kind of error on this thread. */
export function reviveError(w: WorkerError): Error {
  let err: Error;
  if (w.kind === 'hoziron') {
    err = new HozironError(w.code, w.message, w.hint);
  } else {
    err = Object.assign(new Error(w.message), w.errno ?? {});
    err.name = w.name;
  }
  if (w.stack) err.stack = w.stack; // where it was thrown, for the daemon log
  return err;
}

/** Create one backup archive in a worker thread (see the module header). */
export async function createBackupInWorker(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: CreateOptions,
  /** The worker script; tests substitute one. */
  entry: URL = CREATE_WORKER,
): Promise<BackupRecord> {
  if (!existsSync(fileURLToPath(entry))) return createBackup(home, cfg, opts);
  const run = () => runWorker(home, cfg, opts, entry);
  if (opts.lockHeld) return run();
  return withBackupLock(cfg.storageDir, lockOperation(opts), run);
}

async function runWorker(home: HomeLayout, cfg: LoadedConfig, opts: CreateOptions, entry: URL): Promise<BackupRecord> {
  const { onProgress, onWarning, ...plain } = opts;
  const job: CreateWorkerJob = { homeRoot: home.root, cfg, opts: { ...plain, lockHeld: true }, progress: onProgress !== undefined };
  const dirs = tempDirs(cfg, opts);
  const before = new Set((await Promise.all(dirs.map(backupTempFilesIn))).flat());
  const outcome = await new Promise<{ record: BackupRecord } | { error: Error; died: boolean }>((settle) => {
    const worker = new Worker(entry, { workerData: job, resourceLimits: WORKER_LIMITS });
    let answer: { record: BackupRecord } | { error: Error; died: boolean } | undefined;
    let crash: Error | undefined;
    worker.on('message', (m: CreateWorkerMessage) => {
      if (m.type === 'warning') onWarning?.(m.message);
      else if (m.type === 'progress') onProgress?.(m.done, m.total);
      else if (m.type === 'done') answer = { record: m.record };
      else answer = { error: reviveError(m.error), died: false };
      // The answer is the worker's last word: let it go rather than wait for it to wind down.
      if (answer) void worker.terminate();
    });
    worker.on('error', (err) => (crash = err));
    // Settled on exit only, so the worker has stopped writing before anything is cleaned up.
    worker.on('exit', (code) => {
      settle(
        answer ?? {
          died: true,
          error: new HozironError(
            'internal',
            `the backup stopped: its worker thread ${crash ? `failed: ${crash.message}` : `exited with code ${code}`}`,
            'run the backup again; see the daemon log',
            { cause: crash },
          ),
        },
      );
    });
  });
  if ('record' in outcome) return outcome.record;
  if (outcome.died) {
    for (const path of (await Promise.all(dirs.map(backupTempFilesIn))).flat()) {
      if (!before.has(path)) await fs.rm(path, { force: true, recursive: true });
    }
  }
  throw outcome.error;
}

/** The directories a backup writes temporary files in. */
function tempDirs(cfg: LoadedConfig, opts: CreateOptions): string[] {
  const dirs = new Set([cfg.storageDir, preRestoreDir(cfg)]);
  if (opts.output) dirs.add(dirname(resolve(opts.output)));
  return [...dirs];
}

const CREATE_TEMP_SUFFIX = /\.(body|tar\.gz|db(-journal|-wal|-shm)?)$/;
const SIDECAR_TEMP = /^\.(.+\.tar\.gz)\.(sha256|json)\.tmp-/;

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
