/**
 * Opening a SQLite store: pragmas, versioned schemas and forward migration. Each store
 * declares its migrations as an ordered list; `PRAGMA user_version` records how many have
 * run. Opening a database migrates it forward inside one transaction, so a crash during a
 * migration leaves the old schema intact. A database newer than this program is refused.
 */
import { existsSync, promises as fs } from 'node:fs';
import Database from 'better-sqlite3';
import { HozironError } from '../errors.js';
import { fsyncDir } from '../fsutil/durable.js';
import { tempNameFor } from '../fsutil/temp.js';
import { dirname } from 'node:path';

export type Db = Database.Database;
type Migration = (db: Db) => void;

export interface StoreSpec {
  /** Name used in messages, e.g. "keys.db". */
  name: string;
  migrations: readonly Migration[];
  /** WAL for stores written while others read or back them up. */
  wal: boolean;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function applyPragmas(db: Db, spec: StoreSpec): void {
  db.pragma('busy_timeout = 10000');
  if (spec.wal && !db.readonly) db.pragma('journal_mode = WAL');
  // FULL: an acknowledged commit survives power loss, not only a process crash.
  if (!db.readonly) db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
}

/** Bring the schema of `db` up to the newest version of `spec`. */
export function migrate(db: Db, spec: StoreSpec): void {
  const current = schemaVersion(db);
  const target = spec.migrations.length;
  if (current > target) {
    throw new HozironError(
      'unsupported_version',
      `${spec.name} has schema version ${current}, newer than this hoziron understands (${target})`,
      'upgrade hoziron',
    );
  }
  if (current === target) return;
  db.transaction(() => {
    for (let v = current; v < target; v++) spec.migrations[v]!(db);
    db.pragma(`user_version = ${target}`);
  }).immediate();
}

/** Open an existing store read-write and migrate it forward. */
export function openStore(path: string, spec: StoreSpec): Db {
  let db: Db;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (err) {
    throw new HozironError('io', `cannot open ${spec.name} at ${path}: ${(err as Error).message}`, 'check the home and its databases', {
      remedy: 'check_home',
    });
  }
  try {
    applyPragmas(db, spec);
    migrate(db, spec);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Create a new store at `path` atomically: built under a temporary name with its schema
 * (and whatever `seed` adds), closed, given `mode`, fsynced and renamed into place. Never
 * replaces an existing file.
 */
export async function createStore(path: string, spec: StoreSpec, mode: number, seed?: (db: Db) => void): Promise<void> {
  const tmp = tempNameFor(path);
  // Create the file first so it never exists, even briefly, with a wider mode.
  const handle = await fs.open(tmp, 'wx', mode);
  await handle.chmod(mode);
  await handle.close();
  try {
    const db = new Database(tmp);
    try {
      // Build in rollback-journal mode so the result is one self-contained file; WAL is
      // switched on at the first ordinary open (the mode is persistent in the file).
      db.pragma('synchronous = FULL');
      migrate(db, spec);
      seed?.(db);
    } finally {
      db.close();
    }
    const h = await fs.open(tmp, 'r+');
    await h.sync();
    await h.close();
    await fs.link(tmp, path); // fails with EEXIST rather than replacing
    await fs.unlink(tmp);
    await fsyncDir(dirname(path));
  } finally {
    await fs.rm(tmp, { force: true });
    await fs.rm(`${tmp}-journal`, { force: true });
  }
}

/**
 * Open a database only to read it for a check (integrity, audit chain). It is opened
 * read-write but with `query_only`, because a read-only connection to a WAL database leaves
 * empty -wal and -shm files behind, while the last read-write connection removes them on
 * close; the database file itself is not written either way. Falls back to a read-only
 * connection when the file cannot be opened for writing.
 */
export function openForCheck(path: string): Db {
  let db: Db;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (err) {
    if (!existsSync(path)) throw err;
    db = new Database(path, { readonly: true, fileMustExist: true });
  }
  db.pragma('busy_timeout = 10000');
  if (!db.readonly) db.pragma('query_only = ON');
  return db;
}

/** `PRAGMA integrity_check` of a database file: [] when it is sound, else the problems. */
export function integrityCheck(path: string): string[] {
  let db: Db;
  try {
    db = openForCheck(path);
  } catch (err) {
    return [`cannot open: ${(err as Error).message}`];
  }
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    return problems;
  } catch (err) {
    return [(err as Error).message];
  } finally {
    db.close();
  }
}

/** Tables (with their columns) and triggers of a database, as `sqlite_master` lists them. */
interface SchemaShape {
  tables: Map<string, Set<string>>;
  triggers: string[];
}

function shapeOf(db: Db): SchemaShape {
  const rows = db.prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name NOT LIKE 'sqlite_%'").all() as {
    type: string;
    name: string;
  }[];
  const tables = new Map<string, Set<string>>();
  const triggers: string[] = [];
  for (const r of rows) {
    if (r.type === 'trigger') triggers.push(r.name);
    else tables.set(r.name, new Set((db.pragma(`table_info("${r.name.replace(/"/g, '""')}")`) as { name: string }[]).map((c) => c.name)));
  }
  return { tables, triggers };
}

const referenceShapes = new Map<string, SchemaShape>();

/** The schema this program's migrations build for `spec`, built once in memory. */
function referenceShape(spec: StoreSpec): SchemaShape {
  let shape = referenceShapes.get(spec.name);
  if (!shape) {
    const mem = new Database(':memory:');
    try {
      migrate(mem, spec);
      shape = shapeOf(mem);
    } finally {
      mem.close();
    }
    referenceShapes.set(spec.name, shape);
  }
  return shape;
}

/**
 * Whether `db`, at this program's schema version, really has the schema this program uses:
 * every table and column its migrations create (more columns or tables are tolerated), and
 * no trigger (none is ever created; one could make every write fail). Undefined when it does;
 * else the first problem, e.g. `has no table kv`. Only reads.
 */
export function schemaProblem(db: Db, spec: StoreSpec): string | undefined {
  const found = shapeOf(db);
  for (const [table, columns] of referenceShape(spec).tables) {
    const have = found.tables.get(table);
    if (!have) return `has no table ${table}`;
    for (const c of columns) if (!have.has(c)) return `table ${table} has no column ${c}`;
  }
  if (found.triggers.length > 0) return `has a trigger ${found.triggers[0]}, which this hoziron never creates`;
  return undefined;
}
