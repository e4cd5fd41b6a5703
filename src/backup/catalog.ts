/**
 * The list of backups, derived from what is in the storage directory (and its
 * `pre-restore/` folder) every time: an archive copied in is listed, one deleted by hand
 * disappears. Listing never decompresses an archive that has a current summary sidecar; one
 * without (copied in, or its summary is stale) has its first gzip member read once (the
 * manifest) and its summary written. Files that are not Hoziron archives are ignored.
 * Listing changes nothing but sidecars and leftovers of dead processes, so it takes no lock.
 * Encrypted archives (`….tar.gz.age`) are listed from their summary, which holds no secret;
 * one without a current summary is read (and listed) only when an identity is configured.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { BackupRecord } from '../api/types.js';
import { readManifest } from '../archive/reader.js';
import { isAgeName } from '../crypto/age.js';
import { removeLeftovers } from '../fsutil/temp.js';
import { HozironError, errnoCode, withIoContext } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import { ENCRYPTED_SUFFIX, PLAIN_SUFFIX, loadIdentities } from './archive-keys.js';
import { clearStaleLock, isBackupLockHeld } from './lock.js';
import { checkStorage } from './storage.js';
import {
  isCurrent,
  removeOrphanSidecars,
  readAnySummary,
  readChecksum,
  summarizeManifest,
  writeSummary,
  type Summary,
} from './sidecars.js';

const PRE_RESTORE_DIR = 'pre-restore';

function hasArchiveSuffix(name: string): boolean {
  return name.endsWith(PLAIN_SUFFIX) || name.endsWith(ENCRYPTED_SUFFIX);
}

export function preRestoreDir(cfg: LoadedConfig): string {
  return join(cfg.storageDir, PRE_RESTORE_DIR);
}

export interface CatalogEntry {
  record: BackupRecord;
  summary: Summary;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function toRecord(path: string, size: number, s: Summary): BackupRecord {
  return {
    id: s.manifest.id,
    path,
    scope: s.kind === 'pre-restore' ? 'pre-restore' : s.manifest.scope,
    created_at: s.manifest.created_at,
    checksum: s.checksum,
    size_bytes: size,
    file: s.kind === 'pre-restore' ? `${PRE_RESTORE_DIR}/${basename(path)}` : basename(path),
    manifest_scope: s.manifest.scope,
    file_count: s.manifest.file_count,
    unpacked_bytes: s.manifest.unpacked_bytes,
    hoziron_version: s.manifest.hoziron_version,
    last_verified_at: s.last_verified_at,
    ...(s.duration_ms !== undefined ? { duration_ms: s.duration_ms } : {}),
    encrypted: isAgeName(path),
  };
}

/**
 * The catalog entry of one archive file. The summary is rebuilt (and, when `persist`,
 * written) if missing or stale. Throws `archive_invalid` for a file that is not ours.
 * `keys` is the config whose identity may open an encrypted archive to rebuild its summary.
 */
export async function describeArchive(path: string, kind: Summary['kind'], persist: boolean, keys?: LoadedConfig): Promise<CatalogEntry> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new HozironError('not_found', `no archive at ${path}`);
    throw new HozironError('io', `cannot read ${path}: ${(err as Error).message}`);
  }
  if (!stat.isFile()) throw new HozironError('not_found', `${path} is not an archive file`);
  const previous = await readAnySummary(path);
  let summary = previous && isCurrent(previous, stat) && previous.kind === kind ? previous : undefined;
  if (!summary) {
    try {
      const identities = isAgeName(path) && keys ? await loadIdentities(keys) : undefined;
      const manifest = await readManifest(path, identities);
      const hex = (await readChecksum(path)) ?? (await sha256File(path));
      summary = {
        summary_format: 1,
        archive: { size: stat.size, mtime_ms: stat.mtimeMs },
        kind,
        checksum: `sha256:${hex}`,
        manifest: summarizeManifest(manifest),
        last_verified_at: null,
      };
    } catch (err) {
      // A known archive that has since been damaged stays listed under what was recorded
      // when it was made, so `backup verify <id>` can find it and say what is wrong.
      if (previous && err instanceof HozironError)
        return { record: toRecord(path, stat.size, { ...previous, kind }), summary: { ...previous, kind } };
      throw err;
    }
    if (persist) await writeSummary(path, summary).catch(() => undefined);
  }
  return { record: toRecord(path, stat.size, summary), summary };
}

async function archivesIn(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw new HozironError('io', `cannot read the backup storage ${dir}: ${(err as Error).message}`);
  }
  return names.filter((n) => hasArchiveSuffix(n) && !n.startsWith('.')).map((n) => join(dir, n));
}

function newestFirst(a: CatalogEntry, b: CatalogEntry): number {
  const t = b.record.created_at.localeCompare(a.record.created_at);
  return t !== 0 ? t : b.record.path.localeCompare(a.record.path);
}

/** Every archive in the storage path and its pre-restore folder, newest first. */
export async function listCatalog(cfg: LoadedConfig): Promise<CatalogEntry[]> {
  if (!(await checkStorage(cfg))) return [];
  // Listing takes no lock, so it tidies only what no running operation can own: temporary
  // files of dead processes, and orphan sidecars when no live process holds the lock (a
  // create writes its sidecars just before linking its archive into place).
  const idle = !(await isBackupLockHeld(cfg.storageDir));
  if (idle) await clearStaleLock(cfg.storageDir);
  for (const dir of [cfg.storageDir, preRestoreDir(cfg)]) {
    await removeLeftovers(dir);
    if (idle) await removeOrphanSidecars(dir);
  }
  const entries: CatalogEntry[] = [];
  const sources: [string, Summary['kind']][] = [
    [cfg.storageDir, 'regular'],
    [preRestoreDir(cfg), 'pre-restore'],
  ];
  for (const [dir, kind] of sources) {
    for (const path of await archivesIn(dir)) {
      try {
        entries.push(await describeArchive(path, kind, true, cfg));
      } catch (err) {
        // Not one of ours, unreadable, or deleted while listing: not a backup to list.
        if (!(err instanceof HozironError)) throw err;
      }
    }
  }
  return entries.sort(newestFirst);
}

export async function listBackups(cfg: LoadedConfig): Promise<BackupRecord[]> {
  return (await withIoContext(cfg.storageDir, () => listCatalog(cfg))).map((e) => e.record);
}

function kindOf(cfg: LoadedConfig, path: string): Summary['kind'] {
  return dirname(path) === preRestoreDir(cfg) ? 'pre-restore' : 'regular';
}

/** Whether `path` is an archive in the storage directory (or its pre-restore folder). */
export function isInStorage(cfg: LoadedConfig, path: string): boolean {
  const dir = dirname(resolve(path));
  return dir === resolve(cfg.storageDir) || dir === resolve(preRestoreDir(cfg));
}

/** Whether a backup is named by a path to its file rather than by its id. */
export function namesArchiveFile(idOrFile: string): boolean {
  return idOrFile.includes('/') || hasArchiveSuffix(idOrFile) || isAbsolute(idOrFile);
}

const MIN_ID_PREFIX = 8;

/**
 * The archive file a path names: relative to the current directory, or, when no such file
 * is there, relative to the storage path (a name as `backup list` and `ls` of the storage
 * show it).
 */
export async function resolveArchiveFile(cfg: LoadedConfig, file: string): Promise<string> {
  const here = resolve(file);
  if (isAbsolute(file)) return here;
  const isThere = (p: string) =>
    fs.stat(p).then(
      () => true,
      () => false,
    );
  if (await isThere(here)) return here;
  await checkStorage(cfg); // a missing storage path is the error to report, not a missing file
  const inStorage = resolve(cfg.storageDir, file);
  if (await isThere(inStorage)) return inStorage;
  throw new HozironError('not_found', `no archive ${file} in the current directory or in the backup storage ${cfg.storageDir}`);
}

/** Find an archive by id (or a unique id prefix of 8+ characters), or by a path to a file. */
export async function findCatalogEntry(cfg: LoadedConfig, idOrFile: string): Promise<CatalogEntry> {
  if (namesArchiveFile(idOrFile)) {
    const path = await resolveArchiveFile(cfg, idOrFile);
    return describeArchive(path, kindOf(cfg, path), isInStorage(cfg, path), cfg);
  }
  const all = await listCatalog(cfg);
  const exact = all.filter((e) => e.record.id === idOrFile);
  const byPrefix = idOrFile.length >= MIN_ID_PREFIX ? all.filter((e) => e.record.id.startsWith(idOrFile)) : [];
  const matches = exact.length > 0 ? exact : byPrefix;
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    // The same id twice is an archive copied under another name: only its file tells them apart.
    throw new HozironError(
      'usage',
      `"${idOrFile}" matches ${matches.length} backups: ${matches.map((e) => e.record.file).join(', ')}`,
      'name the one you mean by its file name',
    );
  }
  if (idOrFile.length < MIN_ID_PREFIX) {
    throw new HozironError(
      'not_found',
      `no backup with id "${idOrFile}" in ${cfg.storageDir}; an id prefix must be at least ${MIN_ID_PREFIX} characters`,
      'give at least 8 characters of the id, the whole id, or the file name (`hoziron backup list` shows both)',
    );
  }
  throw new HozironError('not_found', `no backup with id "${idOrFile}" in ${cfg.storageDir}`, 'list the backups to see the ids', {
    remedy: 'list_backups',
  });
}

export async function findBackup(cfg: LoadedConfig, idOrFile: string): Promise<BackupRecord> {
  return (await findCatalogEntry(cfg, idOrFile)).record;
}
