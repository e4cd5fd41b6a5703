/**
 * The remote's side of the catalog: which backups the remote holds (an archive with its
 * `.sha256` beside it, i.e. a complete, checked upload; offsite.ts), where each backup is
 * (`local`, `remote`, `both`), and the operations that read or remove remote copies: pull,
 * delete and remote retention (per scope, newest first, `[backup.remote] retention` kept; the
 * newest full is always among them). A pulled archive lands in the storage path only once its
 * bytes hash to the remote `.sha256` (streamed, no second copy), then its sidecars are written.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import type { BackupLocation, BackupRecord } from '../api/types.js';
import { HozironError } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { credentialsFromEnvFile } from '../remote/credentials.js';
import type { S3Store } from '../remote/s3-store.js';
import { ENCRYPTED_SUFFIX, PLAIN_SUFFIX } from './archive-keys.js';
import { findCatalogEntry, namesArchiveFile } from './catalog.js';
import { withBackupLock } from './lock.js';
import { auditEvent } from './retention.js';
import { parseSummary, writeChecksum, writeSummary } from './sidecars.js';
import { ensureStorage } from './storage.js';

export function remoteConfigured(cfg: LoadedConfig): boolean {
  return cfg.config.backup.remote.url !== '';
}

/**
 * The remote store of this home's config; a `usage` error when none is configured. The AWS
 * SDK is loaded here, on first use, so that commands on a home without a remote never pay
 * for loading it.
 */
export async function openRemote(home: HomeLayout, cfg: LoadedConfig): Promise<S3Store> {
  if (!remoteConfigured(cfg)) {
    throw new HozironError('usage', 'no remote is configured (backup.remote.url is empty)', 'set [backup.remote] url in config.toml');
  }
  const { S3Store } = await import('../remote/s3-store.js');
  return new S3Store(cfg.config.backup.remote, credentialsFromEnvFile(home.env));
}

async function withStore<T>(home: HomeLayout, cfg: LoadedConfig, fn: (store: S3Store) => Promise<T>): Promise<T> {
  const store = await openRemote(home, cfg);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

function isArchiveName(name: string): boolean {
  return !name.startsWith('.') && !name.includes('/') && (name.endsWith(PLAIN_SUFFIX) || name.endsWith(ENCRYPTED_SUFFIX));
}

/** Every complete backup on the remote, newest first, as records (`location: 'remote'`). */
async function remoteRecords(store: S3Store, warn?: (m: string) => void): Promise<BackupRecord[]> {
  const objects = await store.list();
  const names = new Map(objects.map((o) => [o.name, o] as const));
  const records: BackupRecord[] = [];
  for (const o of objects) {
    if (!isArchiveName(o.name) || !names.has(`${o.name}.sha256`)) continue;
    const summary = names.has(`${o.name}.json`) ? parseSummary((await store.readSmall(`${o.name}.json`)).toString('utf8')) : undefined;
    if (!summary || summary.kind !== 'regular') {
      warn?.(`${o.name} in ${store.where} has no readable summary; not listed`);
      continue;
    }
    const m = summary.manifest;
    records.push({
      id: m.id,
      path: `${store.where}/${o.name}`,
      scope: m.scope,
      created_at: m.created_at,
      checksum: summary.checksum,
      size_bytes: o.size,
      file: o.name,
      manifest_scope: m.scope,
      file_count: m.file_count,
      unpacked_bytes: m.unpacked_bytes,
      hoziron_version: m.hoziron_version,
      last_verified_at: null,
      encrypted: o.name.endsWith(ENCRYPTED_SUFFIX),
      location: 'remote',
    });
  }
  return records.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.path.localeCompare(a.path));
}

/** `backup list --remote`: what the remote holds. */
export async function listRemoteBackups(home: HomeLayout, cfg: LoadedConfig, warn?: (m: string) => void): Promise<BackupRecord[]> {
  return withStore(home, cfg, (store) => remoteRecords(store, warn));
}

/**
 * Local records with where each backup is, and the remote-only ones after them in date order.
 * A remote that cannot be listed is a warning: the local records are still listed.
 */
export async function withLocations(
  home: HomeLayout,
  cfg: LoadedConfig,
  local: BackupRecord[],
  warn?: (m: string) => void,
): Promise<BackupRecord[]> {
  if (!remoteConfigured(cfg)) return local;
  let remote: BackupRecord[];
  try {
    remote = await listRemoteBackups(home, cfg, warn);
  } catch (err) {
    if (!(err instanceof HozironError)) throw err;
    warn?.(`the remote could not be listed, so only local backups are shown: ${err.message}`);
    return local;
  }
  const remoteFiles = new Set(remote.map((r) => r.file));
  const localFiles = new Set(local.map((r) => (r.scope === 'pre-restore' ? undefined : basename(r.path))));
  const located = local.map((r): BackupRecord => {
    const location: BackupLocation = r.scope !== 'pre-restore' && remoteFiles.has(basename(r.path)) ? 'both' : 'local';
    return { ...r, location };
  });
  const merged = [...located, ...remote.filter((r) => !localFiles.has(r.file))];
  return merged.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.path.localeCompare(a.path));
}

const MIN_ID_PREFIX = 8;

function findRemote(records: BackupRecord[], idOrFile: string, where: string): BackupRecord {
  const byFile = records.filter((r) => r.file === idOrFile || r.file === basename(idOrFile));
  const exact = records.filter((r) => r.id === idOrFile);
  const byPrefix = idOrFile.length >= MIN_ID_PREFIX ? records.filter((r) => r.id.startsWith(idOrFile)) : [];
  const matches = byFile.length > 0 ? byFile : exact.length > 0 ? exact : byPrefix;
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new HozironError(
      'usage',
      `"${idOrFile}" matches ${matches.length} remote backups: ${matches.map((r) => r.file).join(', ')}`,
      'name one by its file name',
    );
  }
  throw new HozironError('not_found', `no backup "${idOrFile}" on the remote ${where}`, 'list the remote backups to see the ids', {
    remedy: 'list_backups',
  });
}

/**
 * Download one remote backup into the storage path (archive, then `.sha256` and summary).
 * Refuses one that is already there. Returns its local record.
 */
export async function pullBackup(
  home: HomeLayout,
  cfg: LoadedConfig,
  idOrFile: string,
  opts: { actor: string; onWarning?: (m: string) => void },
): Promise<BackupRecord> {
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, 'pull', () =>
    withStore(home, cfg, async (store) => {
      const remote = findRemote(await remoteRecords(store, opts.onWarning), idOrFile, store.where);
      const file = remote.file!;
      const dest = join(cfg.storageDir, file);
      const there = await fs.stat(dest).then(
        () => true,
        () => false,
      );
      if (there) throw new HozironError('conflict', `${file} is already in the backup storage ${cfg.storageDir}`);
      const sumText = (await store.readSmall(`${file}.sha256`)).toString('utf8');
      const m = /^([0-9a-f]{64}) [ *](.+)$/m.exec(sumText);
      if (!m || m[2] !== file) throw new HozironError('archive_invalid', `${file}.sha256 in ${store.where} is not a checksum of ${file}`);
      const summary = parseSummary((await store.readSmall(`${file}.json`)).toString('utf8'))!;
      await store.download(file, dest, m[1]!);
      const stat = await fs.stat(dest);
      await writeChecksum(dest, m[1]!);
      // The summary describes this file now: its size and time here, the checksum just verified,
      // and no verification or check of this copy yet (the other host's do not carry over).
      await writeSummary(dest, {
        ...summary,
        archive: { size: stat.size, mtime_ms: stat.mtimeMs },
        kind: 'regular',
        checksum: `sha256:${m[1]!}`,
        last_verified_at: null,
        checked: undefined,
      });
      auditEvent(home, opts.actor, 'backup.pull', remote.id, { file, remote: store.where, checksum: remote.checksum }, opts.onWarning);
      return { ...(await findCatalogEntry(cfg, dest)).record, location: 'both' as const };
    }),
  );
}

/**
 * For a restore by id: when no archive in the storage path has that id and a remote is
 * configured, pull it first (verified as it streams), so the restore reads a local file.
 */
export async function ensureLocalBackup(
  home: HomeLayout,
  cfg: LoadedConfig,
  idOrFile: string,
  opts: { actor: string; onWarning?: (m: string) => void },
): Promise<void> {
  if (!remoteConfigured(cfg) || (namesArchiveFile(idOrFile) && idOrFile.includes('/'))) return;
  try {
    await findCatalogEntry(cfg, idOrFile);
    return;
  } catch (err) {
    if (!(err instanceof HozironError) || err.code !== 'not_found') throw err;
  }
  await pullBackup(home, cfg, idOrFile, opts);
}

/** Delete one backup from the remote: its `.sha256` first (it stops being listed), then the rest. */
export async function deleteRemoteBackup(
  home: HomeLayout,
  cfg: LoadedConfig,
  idOrFile: string,
  opts: { actor: string; onWarning?: (m: string) => void },
): Promise<BackupRecord> {
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, 'delete', () =>
    withStore(home, cfg, async (store) => {
      const r = findRemote(await remoteRecords(store, opts.onWarning), idOrFile, store.where);
      await removeRemote(store, r.file!);
      auditEvent(
        home,
        opts.actor,
        'backup.delete',
        r.id,
        { id: r.id, scope: r.scope, checksum: r.checksum, file: r.file, remote: store.where },
        opts.onWarning,
      );
      return r;
    }),
  );
}

async function removeRemote(store: S3Store, file: string): Promise<void> {
  await store.remove(`${file}.sha256`);
  await store.remove(file);
  await store.remove(`${file}.json`);
}

/**
 * Remote retention (the caller holds the backup lock): per scope, keep the newest
 * `[backup.remote] retention` complete backups; delete older ones, each audited. Only
 * complete uploads are listed at all, so an unfinished one is never counted as a keeper.
 */
export async function applyRemoteRetention(
  home: HomeLayout,
  cfg: LoadedConfig,
  store: S3Store,
  opts: { actor: string; onWarning?: (m: string) => void },
): Promise<BackupRecord[]> {
  const keep = cfg.config.backup.remote.retention;
  const records = await remoteRecords(store, opts.onWarning);
  const deleted: BackupRecord[] = [];
  for (const scope of ['full', 'agents'] as const) {
    for (const r of records.filter((x) => x.scope === scope).slice(keep)) {
      await removeRemote(store, r.file!);
      deleted.push(r);
      auditEvent(
        home,
        opts.actor,
        'backup.prune',
        r.id,
        {
          id: r.id,
          scope: r.scope,
          file: r.file,
          remote: store.where,
          reason: `older than the newest ${keep} ${scope} backups on the remote`,
        },
        opts.onWarning,
      );
    }
  }
  return deleted;
}
