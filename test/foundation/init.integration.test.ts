import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanupHomes, hz, initHome, modeOf, snapshotTree } from './helpers.js';

afterAll(cleanupHomes);

describe('hoziron init', () => {
  it('creates the whole home layout of the README with private permissions and prints the admin key once', async () => {
    const { home, init } = await initHome();
    expect(init.home).toBe(home);
    expect(init.created).toBe(true);
    expect(init.admin_key).toMatchObject({ role: 'admin' });
    expect(init.admin_key!.token).toMatch(/^hzk_/);
    for (const f of ['config.toml', '.env', 'keys.db', 'audit.db', 'data/hoziron.db']) {
      expect(existsSync(join(home, f)), f).toBe(true);
    }
    for (const d of ['agents', 'memory', 'workflows', 'schedules', 'competencies', 'skills', 'integrations']) {
      expect(existsSync(join(home, 'data', d)), d).toBe(true);
    }
    expect(modeOf(join(home, '.env'))).toBe(0o600);
    expect(modeOf(join(home, 'keys.db'))).toBe(0o600);
    expect(modeOf(join(home, 'backups'))).toBe(0o700);
    expect(existsSync(join(home, 'run'))).toBe(true);
    // The config is commented and holds every key with its default.
    const config = readFileSync(join(home, 'config.toml'), 'utf8');
    for (const key of ['listen', 'schedule', 'retention', 'storage_path', 'backup_on_shutdown'])
      expect(config).toMatch(new RegExp(`^${key} =`, 'm'));
    expect(config).toMatch(/^# /m);
    // The memory database is in WAL mode; the audit log starts with its genesis event.
    const mem = new Database(join(home, 'data/hoziron.db'), { readonly: true });
    expect(mem.pragma('journal_mode', { simple: true })).toBe('wal');
    mem.close();
    const audit = new Database(join(home, 'audit.db'), { readonly: true });
    const first = audit.prepare('SELECT seq, action FROM events ORDER BY seq LIMIT 1').get();
    audit.close();
    expect(first).toEqual({ seq: 1, action: 'audit.genesis' });
  });

  it('changes nothing on an initialised home: every file byte-identical, no new key', async () => {
    const { home } = await initHome();
    const before = snapshotTree(home);
    const human = await hz(home, ['init']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/already initialised/);
    expect(human.stdout).not.toMatch(/hzk_/);
    const json = await hz(home, ['init', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ home, created: false });
    expect(snapshotTree(home)).toEqual(before);
  });

  it('completes a half-made home without touching what exists and never mints a second admin key', async () => {
    const { home } = await initHome();
    // As if init had crashed after keys.db: config.toml and the memory database are missing.
    rmSync(join(home, 'config.toml'));
    rmSync(join(home, 'data/hoziron.db'));
    rmSync(join(home, 'data/skills'), { recursive: true });
    const keysBefore = readFileSync(join(home, 'keys.db'));
    const r = await hz(home, ['init', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { created: boolean; created_paths: string[]; admin_key: unknown };
    expect(out.created).toBe(true);
    expect(out.admin_key).toBeNull();
    expect(out.created_paths.sort()).toEqual(['config.toml', 'data/hoziron.db', 'data/skills']);
    expect(readFileSync(join(home, 'keys.db')).equals(keysBefore)).toBe(true);
    const list = await hz(home, ['key', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  });

  it('never alters an initialised home, even to replace a missing audit.db; it names what is missing', async () => {
    const { home } = await initHome();
    rmSync(join(home, 'audit.db'));
    const before = snapshotTree(home);
    const r = await hz(home, ['init', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ home, created: false, missing: ['audit.db'], root_mode_tightened_from: null });
    expect(snapshotTree(home)).toEqual(before);
  });
});
