/**
 * What a backup of a given scope contains: the home's items of that scope, walked in a
 * stable order (names sorted bytewise within each directory). The SQLite databases are
 * reported apart, to be snapshotted rather than read. Never collected: `-wal`, `-shm` and
 * `-journal` files, temporary files (ours and `writeFileAtomic`'s), the storage directory
 * (wherever it is), `run/`, `.restore/`, symlinks and other special files (reported as
 * warnings). A scope without one of its required files (REQUIRED_ITEMS) is
 * refused: an archive without it would restore a home that does not work. Reads only;
 * changes nothing.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { isTempName, tempOwner } from '../fsutil/temp.js';
import { DATABASES, REQUIRED_ITEMS, SCOPE_ITEMS, type HomeLayout, type Scope } from '../home/layout.js';
import { HozironError, errnoCode } from '../errors.js';

interface CollectedDir {
  rel: string;
  mode: number;
  mtime: Date;
}
export interface CollectedFile extends CollectedDir {
  abs: string;
  size: number;
}
interface CollectedDb {
  rel: string;
  abs: string;
  mode: number;
  /** Size of the live file: an estimate of the snapshot's size, for progress. */
  size: number;
}

export interface Collection {
  dirs: CollectedDir[];
  files: CollectedFile[];
  dbs: CollectedDb[];
  warnings: string[];
}

function isExcludedName(name: string): boolean {
  return /-(wal|shm|journal)$/.test(name) || isTempName(name) || tempOwner(name) !== undefined;
}

// Synchronous on purpose: thousands of tiny metadata calls, each far cheaper than a
// thread-pool round trip.
function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new HozironError('io', `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Collect the items of `scope` in `home`, skipping anything at or under `excluded` paths. */
export async function collectScope(home: HomeLayout, scope: Scope, excluded: string[]): Promise<Collection> {
  const out: Collection = { dirs: [], files: [], dbs: [], warnings: [] };
  const skip = excluded.map((p) => resolve(p));
  const isSkipped = (abs: string) => skip.some((p) => abs === p || abs.startsWith(p + sep));
  const databases = new Set<string>(DATABASES);

  const visit = async (rel: string, st: Stats): Promise<void> => {
    const abs = home.path(rel);
    if (isSkipped(abs)) return;
    const mode = st.mode & 0o777;
    if (st.isSymbolicLink()) {
      out.warnings.push(`${rel} is a symbolic link; not archived`);
    } else if (st.isDirectory()) {
      out.dirs.push({ rel, mode, mtime: st.mtime });
      let names: string[];
      try {
        names = readdirSync(abs);
      } catch (err) {
        throw new HozironError('io', `cannot read ${abs}: ${(err as Error).message}`);
      }
      names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const name of names) {
        if (isExcludedName(name)) continue;
        const child = lstatOrUndefined(join(abs, name));
        if (child) await visit(`${rel}/${name}`, child);
      }
    } else if (st.isFile()) {
      if (databases.has(rel)) out.dbs.push({ rel, abs, mode, size: st.size });
      else out.files.push({ rel, abs, size: st.size, mode, mtime: st.mtime });
    } else {
      out.warnings.push(`${rel} is not a regular file or directory; not archived`);
    }
  };

  for (const item of SCOPE_ITEMS[scope]) {
    const rel = item.replace(/\/$/, '');
    const st = lstatOrUndefined(home.path(rel));
    if (st) await visit(rel, st);
  }
  {
    const collected = new Set([...out.files.map((f) => f.rel), ...out.dbs.map((d) => d.rel)]);
    const missing = REQUIRED_ITEMS[scope].filter((rel) => !collected.has(rel));
    if (missing.length > 0) {
      throw new HozironError(
        'home_missing',
        `cannot back up ${home.root}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing (or not a regular file); a${scope === 'full' ? ' full' : 'n agents'} backup must hold ${REQUIRED_ITEMS[scope].join(', ')}`,
        'put the missing file back (from an earlier backup) before backing up this home',
      );
    }
  }
  // Databases last: their snapshots are taken in a worker while the plain files stream.
  out.dbs.sort((a, b) => DATABASES.indexOf(a.rel as never) - DATABASES.indexOf(b.rel as never));
  return out;
}
