/**
 * Retention and deletion. Only this product's archives count: the files of the catalog
 * (archives whose first entry is a Hoziron manifest) in the storage path; regular archives
 * and pre-restore safety backups (`<storage>/pre-restore/`, keep 3) are counted apart.
 * The archive just made is never deleted.
 *
 * Crash safety: an archive is unlinked before its sidecars, so a crash leaves at worst
 * sidecars without an archive, which list ignores and the next locked operation removes
 * (`removeOrphanSidecars`). Each deletion is recorded in the audit trail.
 */
import { promises as fs } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { BackupRecord } from '../api/types.js';
import { removeLeftovers } from '../fsutil/temp.js';
import { HozironError } from '../errors.js';
import { fsyncDir } from '../fsutil/durable.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { AuditLog } from '../stores/audit.js';
import { ARCHIVE_SUFFIX, findCatalogEntry, isInStorage, listCatalog, preRestoreDir } from './catalog.js';
import { withBackupLock } from './lock.js';
import { checksumSidecar, removeOrphanSidecars, summarySidecar } from './sidecars.js';

export const PRE_RESTORE_RETENTION = 3;

export interface DeleteOptions {
  actor: string;
  audit?: boolean;
  onWarning?: (message: string) => void;
}

/** Append one event to the home's audit trail; a failure is a warning, not an error. */
export function auditEvent(
  home: HomeLayout,
  actor: string,
  action: string,
  target: string,
  detail: Record<string, unknown>,
  warn?: (m: string) => void,
): void {
  try {
    const log = AuditLog.open(home.auditDb);
    try {
      log.append(actor, action, target, detail);
    } finally {
      log.close();
    }
  } catch (err) {
    warn?.(`could not record ${action} in the audit trail: ${(err as Error).message}`);
  }
}

async function removeArchiveFiles(path: string): Promise<void> {
  await fs.rm(path, { force: true });
  await fs.rm(checksumSidecar(path), { force: true });
  await fs.rm(summarySidecar(path), { force: true });
  await fsyncDir(resolve(path, '..'));
}

/** Housekeeping every locked backup operation does first. */
export async function tidyStorage(cfg: LoadedConfig): Promise<void> {
  for (const dir of [cfg.storageDir, preRestoreDir(cfg)]) {
    await removeLeftovers(dir);
    await removeOrphanSidecars(dir);
  }
}

/**
 * Keep the newest `keep` archives of one kind and delete the rest (never `protect`).
 * Runs under the caller's lock. Returns the deleted records.
 */
export async function applyRetention(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: DeleteOptions & { keep: number; kind: 'regular' | 'pre-restore'; protect?: string },
): Promise<BackupRecord[]> {
  const protect = opts.protect ? resolve(opts.protect) : undefined;
  const ofKind = (await listCatalog(cfg)).filter((e) => e.summary.kind === opts.kind && e.record.path.endsWith(ARCHIVE_SUFFIX));
  const deleted: BackupRecord[] = [];
  let kept = 0;
  for (const entry of ofKind) {
    const isProtected = protect !== undefined && resolve(entry.record.path) === protect;
    if (isProtected || kept < opts.keep) {
      kept++;
      continue;
    }
    await removeArchiveFiles(entry.record.path);
    deleted.push(entry.record);
    if (opts.audit !== false) {
      const r = entry.record;
      auditEvent(
        home,
        opts.actor,
        'backup.prune',
        r.id,
        { id: r.id, scope: r.scope, checksum: r.checksum, file: basename(r.path), keep: opts.keep },
        opts.onWarning,
      );
    }
  }
  return deleted;
}

/** `backup prune [--keep N]`: keep the newest N regular archives (default: retention). */
export async function pruneBackups(home: HomeLayout, cfg: LoadedConfig, opts: DeleteOptions & { keep?: number }): Promise<BackupRecord[]> {
  const keep = opts.keep ?? cfg.config.backup.retention;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new HozironError('usage', `keep must be a whole number of at least 1, not ${String(keep)}`);
  }
  return withBackupLock(cfg.storageDir, 'prune', async () => {
    await tidyStorage(cfg);
    return applyRetention(home, cfg, { ...opts, keep, kind: 'regular' });
  });
}

/** `backup delete <id>`: delete one archive of the storage path and its sidecars. */
export async function deleteBackup(home: HomeLayout, cfg: LoadedConfig, idOrFile: string, opts: DeleteOptions): Promise<BackupRecord> {
  return withBackupLock(cfg.storageDir, 'delete', async () => {
    await tidyStorage(cfg);
    const entry = await findCatalogEntry(cfg, idOrFile);
    if (!isInStorage(cfg, entry.record.path)) {
      throw new HozironError(
        'usage',
        `${entry.record.path} is not in the backup storage ${cfg.storageDir}; not deleting it`,
        'delete files outside the storage path yourself',
      );
    }
    await removeArchiveFiles(entry.record.path);
    const r = entry.record;
    if (opts.audit !== false) {
      auditEvent(
        home,
        opts.actor,
        'backup.delete',
        r.id,
        { id: r.id, scope: r.scope, checksum: r.checksum, file: basename(r.path) },
        opts.onWarning,
      );
    }
    return r;
  });
}
