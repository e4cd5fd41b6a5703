/**
 * Retention and deletion. Only this product's archives count: the files of the catalog
 * (archives whose first entry is a Hoziron manifest) in the storage path. Each group is
 * counted on its own: `full` and `agents` archives keep the newest N (`[backup] retention`,
 * or prune's count), pre-restore safety backups (`<storage>/pre-restore/`) their own 3.
 *
 * Rules, newest first within a group: an archive counts as one to keep only if it passes
 * its checksum (archive-check.ts, cached), so a truncated copy never takes a good archive's
 * place, and the newest full backup that verifies is always among those kept. An archive
 * found failing its checksum is never deleted by retention: it is reported and left for the
 * operator (it may be a copy still being written, or evidence), who deletes it by hand.
 * Archives older than the N kept ones are deleted without being read (that is what makes a
 * prune cheap); the archive a create has just made is never deleted and counts as good.
 * Every deletion is reported and audited (`backup.prune`, with its reason); a dry run
 * takes no lock and writes nothing, not even the check cache.
 *
 * Crash safety: an archive is unlinked before its sidecars, so a crash leaves at worst
 * sidecars without an archive, which list ignores and the next locked operation removes
 * (`removeOrphanSidecars`).
 */
import { promises as fs } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { BackupRecord, PruneEntry, PruneResult } from '../api/types.js';
import { removeLeftovers } from '../fsutil/temp.js';
import { HozironError } from '../errors.js';
import { fsyncDir } from '../fsutil/durable.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { AuditLog } from '../stores/audit.js';
import { cachedCheck, checkArchive } from './archive-check.js';
import { recordUnauditedArchives } from './audit-recovery.js';
import { findCatalogEntry, isInStorage, listCatalog, preRestoreDir, type CatalogEntry } from './catalog.js';
import { withBackupLock } from './lock.js';
import { checksumSidecar, removeOrphanSidecars, summarySidecar } from './sidecars.js';
import { ensureStorage } from './storage.js';

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

/**
 * Housekeeping every locked backup operation does first: temporary files of dead
 * processes, orphan sidecars, and a `backup.create` event for any archive that lacks one
 * (a create killed between linking its archive and auditing it).
 */
export async function tidyStorage(home: HomeLayout, cfg: LoadedConfig, warn?: (m: string) => void): Promise<void> {
  for (const dir of [cfg.storageDir, preRestoreDir(cfg)]) {
    await removeLeftovers(dir);
    await removeOrphanSidecars(dir);
  }
  await recordUnauditedArchives(home, cfg, warn);
}

type Group = 'full' | 'agents' | 'pre-restore';
const GROUPS_OF_KIND = { regular: ['full', 'agents'], 'pre-restore': ['pre-restore'] } as const;

function groupOf(e: CatalogEntry): Group {
  return e.summary.kind === 'pre-restore' ? 'pre-restore' : e.summary.manifest.scope;
}

const entryOf = (e: CatalogEntry, reason: string): PruneEntry => ({ ...e.record, reason });

interface Plan {
  deleted: PruneEntry[];
  kept: PruneEntry[];
  broken: PruneEntry[];
}

/** Decide one group's fate, newest first (see the module header). */
async function planGroup(
  entries: CatalogEntry[],
  group: Group,
  keep: number,
  protect: string | undefined,
  persist: boolean,
): Promise<Plan> {
  const plan: Plan = { deleted: [], kept: [], broken: [] };
  const label = group === 'pre-restore' ? 'pre-restore' : group;
  let good = 0;
  for (const e of entries) {
    const path = resolve(e.record.path);
    if (path === protect) {
      await checkArchive(path, { persist, trusted: true });
      plan.kept.push(entryOf(e, 'just created'));
      good++;
    } else if (good < keep) {
      const check = await checkArchive(path, { persist });
      if (!check.ok) {
        plan.broken.push(entryOf(e, `fails its checksum (${check.reason ?? 'unknown'}); not counted as a backup to keep`));
        continue;
      }
      const first = good === 0 && group === 'full';
      plan.kept.push(entryOf(e, first ? 'the newest full backup that verifies' : `one of the newest ${keep} good ${label} backups`));
      good++;
    } else {
      // Beyond the keepers: deleted unread, unless already known to be broken.
      const known = await cachedCheck(path);
      if (known && !known.ok)
        plan.broken.push(entryOf(e, `fails its checksum (${known.reason ?? 'unknown'}); not counted as a backup to keep`));
      else plan.deleted.push(entryOf(e, `older than the newest ${keep} good ${label} backups`));
    }
  }
  return plan;
}

export interface RetentionOptions extends DeleteOptions {
  /** How many good archives of each group to keep. */
  keep: number;
  /** Regular archives (groups full and agents) or pre-restore safety backups. */
  kind: 'regular' | 'pre-restore';
  /** The archive just created: never deleted, counted as good without being read. */
  protect?: string;
  /** Plan only: no deletion, no audit, no write of any kind. */
  dryRun?: boolean;
  onDeleted?: (entry: PruneEntry) => void;
  /** An archive left in place because it fails its checksum. */
  onBroken?: (entry: PruneEntry) => void;
}

/**
 * Apply retention to the groups of `kind` (see the module header). Runs under the caller's
 * lock unless it is a dry run.
 */
export async function applyRetention(home: HomeLayout, cfg: LoadedConfig, opts: RetentionOptions): Promise<PruneResult> {
  const protect = opts.protect ? resolve(opts.protect) : undefined;
  const dryRun = opts.dryRun === true;
  const catalog = await listCatalog(cfg);
  const result: PruneResult = { dry_run: dryRun, keep: opts.keep, deleted: [], kept: [], broken: [] };
  for (const group of GROUPS_OF_KIND[opts.kind]) {
    const plan = await planGroup(
      catalog.filter((e) => groupOf(e) === group),
      group,
      opts.keep,
      protect,
      !dryRun,
    );
    result.kept.push(...plan.kept);
    result.broken.push(...plan.broken);
    if (!dryRun) plan.broken.forEach((b) => opts.onBroken?.(b));
    for (const d of plan.deleted) {
      if (!dryRun) {
        await removeArchiveFiles(d.path);
        if (opts.audit !== false) {
          auditEvent(
            home,
            opts.actor,
            'backup.prune',
            d.id,
            { id: d.id, scope: d.scope, checksum: d.checksum, file: basename(d.path), keep: opts.keep, reason: d.reason },
            opts.onWarning,
          );
        }
      }
      result.deleted.push(d);
      opts.onDeleted?.(d);
    }
  }
  return result;
}

function mergeResults(a: PruneResult, b: PruneResult): PruneResult {
  return { ...a, deleted: [...a.deleted, ...b.deleted], kept: [...a.kept, ...b.kept], broken: [...a.broken, ...b.broken] };
}

/**
 * `backup prune`: retention now, with `keep` (default `[backup] retention`) for full and
 * agents archives and 3 for pre-restore ones. A dry run only reports.
 */
export async function pruneBackups(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: DeleteOptions & { keep?: number; dryRun?: boolean },
): Promise<PruneResult> {
  const keep = opts.keep ?? cfg.config.backup.retention;
  if (!Number.isInteger(keep) || keep < 1) {
    throw new HozironError('usage', `the number of backups to keep must be a whole number of at least 1, not ${String(keep)}`);
  }
  const run = async () => {
    const regular = await applyRetention(home, cfg, { ...opts, keep, kind: 'regular' });
    const safety = await applyRetention(home, cfg, { ...opts, keep: PRE_RESTORE_RETENTION, kind: 'pre-restore' });
    return mergeResults(regular, { ...safety, keep });
  };
  if (opts.dryRun) return run();
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, 'prune', async () => {
    await tidyStorage(home, cfg, opts.onWarning);
    return run();
  });
}

/** `backup delete <id>`: delete one archive of the storage path and its sidecars. */
export async function deleteBackup(home: HomeLayout, cfg: LoadedConfig, idOrFile: string, opts: DeleteOptions): Promise<BackupRecord> {
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, 'delete', async () => {
    await tidyStorage(home, cfg, opts.onWarning);
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
