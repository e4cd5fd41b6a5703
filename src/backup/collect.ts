/**
 * What a backup of a given scope contains: the home's items of that scope, walked in a
 * stable order (names sorted bytewise within each directory). The SQLite databases are
 * reported apart, to be snapshotted rather than read. Never collected: `-wal`, `-shm` and
 * `-journal` files, temporary files (ours and `writeFileAtomic`'s), the storage directory
 * (wherever it is), `run/`, `.restore/`, and symlinks (each reported as a warning: a link
 * holds no data, and its target, when in the scope, is archived itself). Names are read as
 * bytes, so a name that is not UTF-8 is collected like any other (entry-name.ts). Nothing
 * else in the scope is left out: a socket, FIFO or device, or anything unreadable, fails
 * the collection and names the file. A scope without one of its required files
 * (REQUIRED_ITEMS) is refused: an archive without it would restore a home that does
 * not work. Reads only; changes nothing.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { resolve, sep } from 'node:path';
import { aliasingPairs, describeAliasPairs } from '../archive/entry-paths.js';
import { decodeName, displayName, fsPath } from '../archive/entry-name.js';
import { isTempName, tempOwner } from '../fsutil/temp.js';
import { DATABASES, REQUIRED_ITEMS, SCOPE_ITEMS, type HomeLayout, type Scope } from '../home/layout.js';
import { HozironError, errnoCode } from '../errors.js';

interface CollectedDir {
  rel: string;
  mode: number;
  mtime: Date;
}
export interface CollectedFile extends CollectedDir {
  /** A Buffer when the name is not UTF-8. */
  abs: string | Buffer;
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
function lstatOrUndefined(path: string | Buffer, shown: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new HozironError('io', `cannot read ${displayName(shown)}: ${(err as Error).message}`);
  }
}

/** What a special file is, for the message that refuses it. */
function specialKind(st: Stats): string {
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file or directory';
}

/** Most pairs named in the create-time warning about names that alias on other disks. */
const MAX_ALIAS_PAIRS = 5;

/** One warning naming the paths that a case-insensitive or normalising file system would merge. */
function aliasWarning(paths: string[]): string | undefined {
  const { pairs, more } = aliasingPairs(paths, { foldsCase: true, normalises: true }, MAX_ALIAS_PAIRS);
  if (pairs.length === 0) return undefined;
  const named = describeAliasPairs(pairs);
  return (
    `names that differ only in case or Unicode normalisation (${named}${more > 0 ? `, and ${more} more` : ''}): ` +
    'this archive restores onto a file system that keeps them apart (like this one), not onto a case-insensitive or normalising one'
  );
}

/** Collect the items of `scope` in `home`, skipping anything at or under `excluded` paths. */
export async function collectScope(home: HomeLayout, scope: Scope, excluded: string[]): Promise<Collection> {
  const out: Collection = { dirs: [], files: [], dbs: [], warnings: [] };
  const skip = excluded.map((p) => resolve(p));
  const isSkipped = (abs: string) => skip.some((p) => abs === p || abs.startsWith(p + sep));
  const databases = new Set<string>(DATABASES);

  const visit = async (rel: string, st: Stats): Promise<void> => {
    if (isSkipped(home.path(rel))) return;
    const abs = fsPath(home.root, rel);
    const mode = st.mode & 0o777;
    if (st.isSymbolicLink()) {
      out.warnings.push(`${displayName(rel)} is a symbolic link; not archived`);
    } else if (st.isDirectory()) {
      out.dirs.push({ rel, mode, mtime: st.mtime });
      let names: Buffer[];
      try {
        // As bytes: a name that is not UTF-8 must not be decoded into another name (or lost).
        names = readdirSync(abs, { encoding: 'buffer' });
      } catch (err) {
        throw new HozironError('io', `cannot read ${displayName(home.path(rel))}: ${(err as Error).message}`);
      }
      names.sort((a, b) => Buffer.compare(a, b));
      for (const raw of names) {
        const name = decodeName(raw);
        if (isExcludedName(name)) continue;
        const childRel = `${rel}/${name}`;
        const child = lstatOrUndefined(fsPath(home.root, childRel), home.path(childRel));
        if (child) await visit(childRel, child);
      }
    } else if (st.isFile()) {
      if (databases.has(rel)) out.dbs.push({ rel, abs: home.path(rel), mode, size: st.size });
      else out.files.push({ rel, abs, size: st.size, mode, mtime: st.mtime });
    } else {
      throw new HozironError(
        'io',
        `cannot back up ${displayName(rel)}: it is ${specialKind(st)}, which an archive cannot hold`,
        'move it out of the home (or replace it with a regular file) and back up again',
      );
    }
  };

  for (const item of SCOPE_ITEMS[scope]) {
    const rel = item.replace(/\/$/, '');
    const st = lstatOrUndefined(home.path(rel), home.path(rel));
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
  const aliases = aliasWarning([...out.dirs, ...out.files, ...out.dbs].map((e) => e.rel));
  if (aliases) out.warnings.push(aliases);
  // Databases last: their snapshots are taken in a worker while the plain files stream.
  out.dbs.sort((a, b) => DATABASES.indexOf(a.rel as never) - DATABASES.indexOf(b.rel as never));
  return out;
}
