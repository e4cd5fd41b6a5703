/**
 * What a restore would change: the scope items it swaps, and the files it adds, replaces and
 * removes (every path), found by comparing the manifest with a walk of the home's scope
 * (sizes only; the home's files are not hashed, so a dry run stays cheap); and how old the
 * backup is, in audit events recorded since. Read-only.
 */
import { lstatSync, readdirSync } from 'node:fs';
import type { RestoreChanges, RestoreSinceBackup } from '../api/restore.js';
import { decodeName, fsPath } from '../archive/entry-name.js';
import type { Manifest } from '../archive/manifest.js';
import { errnoCode } from '../errors.js';
import { DATABASES, SCOPE_ITEMS, type HomeLayout } from '../home/layout.js';
import { openForCheck } from '../stores/sqlite.js';
import { exists } from '../fsutil/exists.js';

/** SQLite files that belong to a database and must move with it (never onto a restored one). */
const DB_SIDE_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

/** Home-relative items a restore of `scope` swaps: scope items plus their databases' side files. */
export function swapItems(scope: Manifest['scope']): string[] {
  const items: string[] = [];
  for (const item of SCOPE_ITEMS[scope]) {
    const path = item.replace(/\/$/, '');
    if ((DATABASES as readonly string[]).includes(path)) for (const s of DB_SIDE_SUFFIXES) items.push(`${path}${s}`);
    items.push(path);
  }
  return items;
}

/**
/**
 * Regular files under the home's scope items: home-relative path → size. Names are read as
 * bytes (entry-name.ts), so a file whose name is not UTF-8 is counted like any other: it is
 * replaced or removed by the restore, and must show in the plan. Synchronous: it runs in a
 * worker thread (home-walk-worker.ts) while the archive is staged, one system call per
 * file with no round trip through the main thread.
 */
export function scanScope(root: string, scope: Manifest['scope']): [string, number][] {
  const found: [string, number][] = [];
  const visit = (rel: string): void => {
    const abs = fsPath(root, rel);
    let st;
    try {
      st = lstatSync(abs);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isFile()) found.push([rel, st.size]);
    else if (st.isDirectory()) {
      for (const name of readdirSync(abs, { encoding: 'buffer' })) visit(`${rel}/${decodeName(name)}`);
    }
  };
  for (const item of SCOPE_ITEMS[scope]) visit(item.replace(/\/$/, ''));
  return found;
}

/**
 * The file changes of restoring `m` from the walk of the current home (behaviour and keys
 * are filled in once the archive is staged). Compact while it counts: whether each listed
 * file exists now and its size go in typed arrays by manifest index, not a map of every
 * path, so a home or an archive of 200,000 files costs no string per file beyond the lists.
 */
export function planChanges(scanned: [string, number][], m: Manifest): RestoreChanges {
  const present = new Uint8Array(m.files.length);
  const before = new Float64Array(m.files.length);
  const unlisted: [string, number][] = [];
  for (const [rel, size] of scanned) {
    const i = m.files.indexOf(rel);
    if (i < 0) unlisted.push([rel, size]);
    else {
      present[i] = 1;
      before[i] = size;
    }
  }
  const changes: RestoreChanges = {
    added: { count: 0, bytes: 0, paths: [] },
    replaced: { count: 0, bytes_before: 0, bytes_after: 0, paths: [] },
    removed: { count: 0, bytes: 0, paths: [] },
    items: SCOPE_ITEMS[m.scope].map((i) => i.replace(/\/$/, '')),
    behaviour: [],
    keys: { come_back: [], go_away: [], kept_revoked: [] },
  };
  for (let i = 0; i < m.files.length; i++) {
    const size = m.files.sizeAt(i);
    if (present[i] === 0) {
      changes.added.count++;
      changes.added.bytes += size;
      changes.added.paths.push(m.files.pathAt(i));
    } else {
      changes.replaced.count++;
      changes.replaced.bytes_before += before[i]!;
      changes.replaced.bytes_after += size;
      changes.replaced.paths.push(m.files.pathAt(i));
    }
  }
  for (const [path, size] of unlisted) {
    changes.removed.count++;
    changes.removed.bytes += size;
    changes.removed.paths.push(path);
  }
  for (const kind of [changes.added, changes.replaced, changes.removed]) kind.paths.sort();
  return changes;
}

/**
 * How old the backup is, counted in the current home's audit trail: the events after the
 * archive's audit head when the current chain holds that head (same seq and hash), else the
 * events after the archive's creation time (an agents archive has no head; a home restored
 * from elsewhere has another chain).
 */
export async function sinceBackup(home: HomeLayout, m: Manifest, now = Date.now()): Promise<RestoreSinceBackup> {
  const age_seconds = Math.max(0, Math.round((now - Date.parse(m.created_at)) / 1000));
  const none: RestoreSinceBackup = { age_seconds, audit_events: 0, basis: 'created_at', newest_event_at: null };
  if (!(await exists(home.auditDb))) return none;
  let db;
  try {
    db = openForCheck(home.auditDb);
  } catch {
    return none; // a damaged current trail is doctor's to report; the plan stays readable
  }
  try {
    const head = m.audit_head;
    const atHead = head && (db.prepare('SELECT hash FROM events WHERE seq = ?').get(head.seq) as { hash: string } | undefined);
    const after =
      head && atHead?.hash === head.hash
        ? { basis: 'audit_head' as const, where: 'seq > ?', arg: head.seq as number | string }
        : { basis: 'created_at' as const, where: 'time > ?', arg: m.created_at };
    const row = db
      .prepare(
        `SELECT count(*) AS n, (SELECT time FROM events WHERE ${after.where} ORDER BY seq DESC LIMIT 1) AS newest FROM events WHERE ${after.where}`,
      )
      .get(after.arg, after.arg) as {
      n: number;
      newest: string | null;
    };
    return { age_seconds, audit_events: row.n, basis: after.basis, newest_event_at: row.newest };
  } catch {
    return none;
  } finally {
    db.close();
  }
}
