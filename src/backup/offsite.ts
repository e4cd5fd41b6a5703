/**
 * Off-host copies (`[backup.remote]`): every regular archive of the storage path is copied
 * to the remote with its sidecars, after each successful create and by `backup push`.
 *
 * Invariants: the archive goes first, then its `.json` summary, then its `.sha256`, each
 * checked after upload (remote/s3-store.ts), so a remote archive with a `.sha256` beside it
 * is complete and equal to the local one; the remote list shows only those. A failed upload
 * changes nothing local: the archive stays, the failure is recorded (run/remote-state.json,
 * the audit trail) and the archive is pending until a later create, push or the daemon's
 * retry uploads it. Everything here runs under the backup lock, so local retention or a
 * delete never removes an archive while it is being uploaded, and two uploads of one object
 * never run at once (which is what lets an upload abort any unfinished one of its object).
 * A plaintext archive is never uploaded while `require_encryption` is on.
 */
import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import type { BackupRecord, PushResult } from '../api/types.js';
import { HozironError } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import type { S3Store } from '../remote/s3-store.js';
import { findCatalogEntry, isInStorage, listCatalog, type CatalogEntry } from './catalog.js';
import { isBackupLockHeld, withBackupLock } from './lock.js';
import { applyRemoteRetention, openRemote, remoteConfigured } from './remote-catalog.js';
import { readRemoteState, retryDelayMs, writeRemoteState, type RemoteState } from './remote-state.js';
import { auditEvent } from './retention.js';
import { checksumSidecar, summarySidecar } from './sidecars.js';
import { ensureStorage } from './storage.js';

export interface OffsiteOptions {
  actor: string;
  onWarning?: (message: string) => void;
}

/** Upload one catalog entry unless the remote already holds it complete; true when it uploaded. */
async function pushEntry(store: S3Store, cfg: LoadedConfig, entry: CatalogEntry): Promise<boolean> {
  const { record } = entry;
  const file = basename(record.path);
  if (cfg.config.backup.remote.require_encryption && !record.encrypted) {
    throw new HozironError(
      'remote',
      `not uploading ${file}: it is not encrypted and backup.remote.require_encryption is on`,
      'configure [backup.encryption] recipients so new archives are encrypted, or set backup.remote.require_encryption = false',
    );
  }
  const hex = record.checksum.replace(/^sha256:/, '');
  const sha256Text = await fs.readFile(checksumSidecar(record.path));
  if ((await store.sizeOf(file)) === record.size_bytes && (await store.sizeOf(`${file}.sha256`)) !== undefined) {
    const remoteSum = (await store.readSmall(`${file}.sha256`)).toString('utf8');
    if (remoteSum.startsWith(hex)) return false;
  }
  await store.abortAbandoned(file);
  await store.uploadFile(record.path, file, hex, record.size_bytes);
  await store.putSmall(`${file}.json`, await fs.readFile(summarySidecar(record.path)));
  await store.putSmall(`${file}.sha256`, sha256Text);
  return true;
}

/**
 * Upload `files` (storage-relative names of regular archives), recording each outcome. Never
 * throws for an upload that fails: the result says which failed and why.
 */
async function pushFiles(home: HomeLayout, cfg: LoadedConfig, files: string[], opts: OffsiteOptions): Promise<PushResult> {
  const store = await openRemote(home, cfg);
  const state = readRemoteState(home);
  const result: PushResult = { remote: store.where, uploaded: [], already: [], failed: [] };
  try {
    // Multipart uploads that a failed run could not abort (the store was down): abort them now.
    const stillPending = [];
    for (const p of state.pending_aborts) if (!(await store.abortUpload(p.key, p.upload_id))) stillPending.push(p);
    state.pending_aborts = stillPending;
    const catalog = new Map(
      (await listCatalog(cfg)).filter((e) => e.record.scope !== 'pre-restore').map((e) => [basename(e.record.path), e] as const),
    );
    for (const file of files) {
      const entry = catalog.get(file);
      if (!entry) {
        state.pending = state.pending.filter((p) => p !== file); // deleted locally since: nothing to upload
        continue;
      }
      const at = new Date().toISOString();
      try {
        if (await pushEntry(store, cfg, entry)) result.uploaded.push(file);
        else result.already.push(file);
        recordSuccess(state, file, at);
        if (result.uploaded.includes(file)) {
          auditEvent(home, opts.actor, 'backup.upload', entry.record.id, { file, remote: store.where, ok: true }, opts.onWarning);
        }
      } catch (err) {
        if (!(err instanceof HozironError)) throw err;
        const pendingAbort = (err as { pendingAbort?: RemoteState['pending_aborts'][number] }).pendingAbort;
        if (pendingAbort) state.pending_aborts.push(pendingAbort);
        result.failed.push({ file, error: err.message });
        recordFailure(state, file, at, err.message);
        auditEvent(
          home,
          opts.actor,
          'backup.upload',
          entry.record.id,
          { file, remote: store.where, ok: false, error: err.message },
          opts.onWarning,
        );
        opts.onWarning?.(`upload failed: ${err.message}`);
      }
    }
    if (result.failed.length === 0 && result.uploaded.length + result.already.length > 0) {
      await applyRemoteRetention(home, cfg, store, opts).catch((err: unknown) => {
        if (!(err instanceof HozironError)) throw err;
        opts.onWarning?.(`remote retention: ${err.message}`);
      });
    }
  } finally {
    store.close();
    await writeRemoteState(home, state).catch((err: unknown) =>
      opts.onWarning?.(`cannot record the upload state in ${home.remoteState}: ${(err as Error).message}`),
    );
  }
  return result;
}

function recordSuccess(state: RemoteState, file: string, at: string): void {
  state.last_attempt = { at, ok: true, file, error: null };
  state.last_success = { at: new Date().toISOString(), file };
  state.pending = state.pending.filter((p) => p !== file);
  if (state.pending.length === 0) {
    state.failures = 0;
    state.next_retry_at = null;
  }
}

function recordFailure(state: RemoteState, file: string, at: string, error: string): void {
  state.last_attempt = { at, ok: false, file, error };
  state.failures += 1;
  if (!state.pending.includes(file)) state.pending.push(file);
  state.next_retry_at = new Date(Date.now() + retryDelayMs(state.failures)).toISOString();
}

/**
 * After a successful create (the caller holds the backup lock): upload the new archive and any
 * still pending. Never throws: the local backup has succeeded whatever happens here; the
 * record says where the backup is and how its upload went.
 */
export async function uploadAfterCreate(
  home: HomeLayout,
  cfg: LoadedConfig,
  record: BackupRecord,
  opts: OffsiteOptions & { kind?: 'regular' | 'pre-restore'; output?: string },
): Promise<BackupRecord> {
  if (!remoteConfigured(cfg) || opts.kind === 'pre-restore' || opts.output !== undefined) return record;
  const file = basename(record.path);
  try {
    const pending = readRemoteState(home).pending.filter((p) => p !== file);
    const result = await pushFiles(home, cfg, [file, ...pending], opts);
    const failed = result.failed.find((f) => f.file === file);
    return failed
      ? { ...record, location: 'local', upload: { ok: false, error: failed.error } }
      : { ...record, location: 'both', upload: { ok: true } };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    opts.onWarning?.(`upload failed: ${message}`);
    return { ...record, location: 'local', upload: { ok: false, error: message } };
  }
}

/** The pending uploads and every regular archive not yet on the remote (`push --all`), or one. */
export async function pushBackups(
  home: HomeLayout,
  cfg: LoadedConfig,
  which: { all: true } | { idOrFile: string },
  opts: OffsiteOptions,
): Promise<PushResult> {
  (await openRemote(home, cfg)).close(); // refuses early when no remote is configured
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, 'push', async () => {
    let files: string[];
    if ('all' in which) {
      files = (await listCatalog(cfg)).filter((e) => e.record.scope !== 'pre-restore').map((e) => basename(e.record.path));
    } else {
      const entry = await findCatalogEntry(cfg, which.idOrFile);
      if (!isInStorage(cfg, entry.record.path) || entry.record.scope === 'pre-restore') {
        throw new HozironError('usage', `${entry.record.path} is not a regular backup of the storage path; only those are pushed`);
      }
      files = [basename(entry.record.path)];
    }
    const result = await pushFiles(home, cfg, files.reverse(), opts); // oldest first: retention sees the newest last
    if (result.failed.length > 0) {
      const first = result.failed[0]!;
      throw new HozironError(
        'remote',
        result.failed.length === 1 ? first.error : `${result.failed.length} uploads failed; the first: ${first.error}`,
        'fix what the message says and push again; the local backups are untouched',
      );
    }
    return result;
  });
}

/**
 * The daemon's retry: upload the pending archives once their backoff has passed. Quietly does
 * nothing when nothing is due or another backup operation holds the lock (it tries again later).
 */
export async function retryPendingUploads(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: OffsiteOptions,
  now = Date.now(),
): Promise<PushResult | undefined> {
  if (!remoteConfigured(cfg)) return undefined;
  const due = readRemoteState(home);
  if (due.pending.length === 0 || (due.next_retry_at !== null && Date.parse(due.next_retry_at) > now)) return undefined;
  if (await isBackupLockHeld(cfg.storageDir)) return undefined;
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, 'upload retry', async () => pushFiles(home, cfg, readRemoteState(home).pending, opts));
}
