/**
 * What a restore would change: the scope items it swaps, and the files it adds, replaces and
 * removes, found by comparing the manifest with a walk of the home's scope (sizes only; the
 * home's files are not hashed). Read-only.
 */
import { promises as fs } from 'node:fs';
import type { RestoreChanges } from '../api/restore.js';
import { decodeName, fsPath } from '../archive/entry-name.js';
import type { Manifest } from '../archive/manifest.js';
import { errnoCode } from '../errors.js';
import { DATABASES, SCOPE_ITEMS, type HomeLayout } from '../home/layout.js';

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
 * Regular files under the home's scope items: home-relative path → size. Names are read as
 * bytes (entry-name.ts), so a file whose name is not UTF-8 is counted like any other: it is
 * replaced or removed by the restore, and must show in the plan.
 */
async function scanScope(home: HomeLayout, scope: Manifest['scope']): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const visit = async (rel: string): Promise<void> => {
    const abs = fsPath(home.root, rel);
    let st;
    try {
      st = await fs.lstat(abs);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isFile()) found.set(rel, st.size);
    else if (st.isDirectory()) {
      for (const name of await fs.readdir(abs, { encoding: 'buffer' })) await visit(`${rel}/${decodeName(name)}`);
    }
  };
  for (const item of SCOPE_ITEMS[scope]) await visit(item.replace(/\/$/, ''));
  return found;
}

export async function planChanges(home: HomeLayout, m: Manifest): Promise<RestoreChanges> {
  const current = await scanScope(home, m.scope);
  const changes: RestoreChanges = {
    added: { count: 0, bytes: 0 },
    replaced: { count: 0, bytes_before: 0, bytes_after: 0 },
    removed: { count: 0, bytes: 0 },
    items: SCOPE_ITEMS[m.scope].map((i) => i.replace(/\/$/, '')),
  };
  for (const f of m.files) {
    const before = current.get(f.path);
    if (before === undefined) {
      changes.added.count++;
      changes.added.bytes += f.size;
    } else {
      changes.replaced.count++;
      changes.replaced.bytes_before += before;
      changes.replaced.bytes_after += f.size;
      current.delete(f.path);
    }
  }
  for (const size of current.values()) {
    changes.removed.count++;
    changes.removed.bytes += size;
  }
  return changes;
}
