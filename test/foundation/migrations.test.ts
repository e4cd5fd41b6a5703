import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HozironError } from '../../src/errors.js';
import { AUDIT_SPEC, AuditLog } from '../../src/stores/audit.js';
import { KEYS_SPEC, KeyStore } from '../../src/stores/keys.js';
import { MEMORY_SPEC, MemoryStore } from '../../src/stores/memory.js';
import { migrate, openStore, schemaVersion, type StoreSpec } from '../../src/stores/sqlite.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tempPath(name: string): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return join(dir, name);
}

describe('store migrations', () => {
  it.each([
    ['keys.db', KEYS_SPEC, (p: string) => KeyStore.create(p)],
    ['audit.db', AUDIT_SPEC, (p: string) => AuditLog.create(p)],
    ['data/hoziron.db', MEMORY_SPEC, (p: string) => MemoryStore.create(p)],
  ] as [string, StoreSpec, (p: string) => Promise<unknown>][])('%s is created at the newest schema version', async (_n, spec, create) => {
    const path = tempPath('store.db');
    await create(path);
    const db = openStore(path, spec);
    expect(schemaVersion(db)).toBe(spec.migrations.length);
    db.close();
  });

  it('refuses a database whose schema is newer than this program knows, naming it', async () => {
    const path = tempPath('keys.db');
    await KeyStore.create(path);
    const raw = new Database(path);
    raw.pragma(`user_version = ${KEYS_SPEC.migrations.length + 1}`);
    raw.close();
    let caught: unknown;
    try {
      KeyStore.open(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HozironError);
    expect((caught as HozironError).code).toBe('unsupported_version');
    expect((caught as HozironError).message).toMatch(/keys\.db has schema version 2, newer than this hoziron understands \(1\)/);
  });

  it('migrates an older database forward, one step at a time, on open', () => {
    const path = tempPath('x.db');
    const v1: StoreSpec = { name: 'x.db', wal: true, migrations: [(db) => db.exec('CREATE TABLE a (x)')] };
    openStore(new Database(path).close().name, v1).close();
    const v2: StoreSpec = { ...v1, migrations: [...v1.migrations, (db) => db.exec('ALTER TABLE a ADD COLUMN y')] };
    const db = openStore(path, v2);
    expect(schemaVersion(db)).toBe(2);
    expect((db.prepare('PRAGMA table_info(a)').all() as { name: string }[]).map((c) => c.name)).toEqual(['x', 'y']);
    db.close();
  });

  it('leaves the old schema intact when a migration fails', () => {
    const path = tempPath('x.db');
    const v1: StoreSpec = { name: 'x.db', wal: true, migrations: [(db) => db.exec('CREATE TABLE a (x)')] };
    openStore(new Database(path).close().name, v1).close();
    const broken: StoreSpec = {
      ...v1,
      migrations: [...v1.migrations, (db) => db.exec('CREATE TABLE b (x)'), (db) => db.exec('THIS IS NOT SQL')],
    };
    expect(() => openStore(path, broken)).toThrow();
    const db = new Database(path);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
    migrate(db, v1); // still a valid v1 database
    db.close();
  });
});
