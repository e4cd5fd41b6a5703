/**
 * Every archive in the storage path has a `backup.create` event. A create links its archive
 * into place and then appends the event; killed between the two, it leaves an archive the
 * audit trail never heard of. So every locked backup operation first records such archives,
 * with `recovered: true` in the event's detail. Idempotent: an id that has a `backup.create`
 * event is left alone. The same goes for an archive copied into the storage path, and for
 * the archives made after the backup a full restore took its audit.db from.
 *
 * Cost: the trail is read newest first and the scan stops once every archive is accounted
 * for, or at events older than the oldest archive (less a day, for a clock that stepped), so
 * it reads the events since the oldest kept backup, not the whole trail.
 */
import { basename } from 'node:path';
import { exists } from '../fsutil/exists.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { AuditLog } from '../stores/audit.js';
import { listCatalog, type CatalogEntry } from './catalog.js';

const CLOCK_SLACK_MS = 24 * 60 * 60 * 1000;
const RECOVERY_ACTOR = 'hoziron:recovery';

/** Record a `backup.create` event for each archive in storage that has none (see the header). */
export async function recordUnauditedArchives(home: HomeLayout, cfg: LoadedConfig, warn?: (m: string) => void): Promise<void> {
  if (!(await exists(home.auditDb))) return;
  const catalog = await listCatalog(cfg);
  if (catalog.length === 0) return;
  const pending = new Map<string, CatalogEntry>();
  for (const e of [...catalog].reverse()) if (!pending.has(e.record.id)) pending.set(e.record.id, e); // oldest first
  const horizon = Math.min(...catalog.map((e) => Date.parse(e.record.created_at))) - CLOCK_SLACK_MS;
  try {
    const log = AuditLog.open(home.auditDb);
    try {
      for (const ev of log.newestFirst()) {
        if (ev.action === 'backup.create') pending.delete(ev.target);
        if (pending.size === 0 || Date.parse(ev.time) < horizon) break;
      }
      for (const { record: r } of pending.values()) {
        log.append(RECOVERY_ACTOR, 'backup.create', r.id, {
          id: r.id,
          scope: r.scope,
          checksum: r.checksum,
          size_bytes: r.size_bytes,
          file: basename(r.path),
          recovered: true,
        });
        warn?.(`recorded the creation of ${basename(r.path)} (${r.id}) in the audit trail: it had no backup.create event`);
      }
    } finally {
      log.close();
    }
  } catch (err) {
    warn?.(`could not check the audit trail for unrecorded backups: ${(err as Error).message}`);
  }
}
