/**
 * What a restore takes from an archive only after judging it: modes (never the archive's),
 * a config and databases this version can use, the items its scope needs, and API keys
 * (revocations in the current home survive). Every refusal is one error line and leaves the
 * home byte-identical.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from '../support/cli.js';
import { cli, makeHome, snapshotTree, waitForCleanup } from './support/home.js';
import { baseDirs, baseFiles, entriesFor, manifestFor, repackArchive, tarBytes, writeArchive } from './support/archives.js';

let tmp: { dir: string; cleanup: () => void };
let home: string;
let full: string;
let agents: string;
beforeAll(async () => {
  tmp = tempDir('hoziron-preflight-');
  home = join(tmp.dir, 'home');
  await makeHome(home);
  full = (JSON.parse((await cli(home, 'backup', 'create', '--json')).stdout) as { path: string }).path;
  agents = (JSON.parse((await cli(home, 'backup', 'create', '--agents-only', '--json')).stdout) as { path: string }).path;
});
afterAll(() => tmp.cleanup());

let n = 0;
const repack = (source: string, edit: Parameters<typeof repackArchive>[2]) => repackArchive(source, join(tmp.dir, `a${++n}.tar.gz`), edit);

/** A dry run and a confirmed restore of `archive` both fail with one error line matching `pattern`; the home is unchanged. */
async function expectRefused(archive: string, pattern: RegExp): Promise<void> {
  const before = snapshotTree(home, []);
  for (const flags of [[], ['--confirm']]) {
    const r = await cli(home, 'backup', 'restore', archive, ...flags);
    expect(r.code, r.stderr).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshotTree(home, []), `home after ${flags.join(' ') || 'a dry run'}`).toEqual(before);
  }
}

/** A SQLite file built by `build`, as bytes. */
function dbBytes(name: string, build: (db: Database.Database) => void): Buffer {
  const path = join(tmp.dir, name);
  const db = new Database(path);
  build(db);
  db.close();
  return readFileSync(path);
}

describe('restore: modes from the archive are not trusted', () => {
  it('an archive whose entries say 0777 leaves secrets 0600, directories 0700 and other files at most 0644', async () => {
    const target = join(tmp.dir, 'modes-home');
    await makeHome(target);
    const open = await repack(full, (_dir, m) => {
      for (const f of m.files) f.mode = 0o777;
      for (const d of m.dirs) d.mode = 0o777;
    });
    const r = await cli(target, 'backup', 'restore', open, '--confirm');
    expect(r.code, r.stderr).toBe(0);
    await waitForCleanup(target);
    for (const secret of ['.env', 'keys.db', 'config.toml', 'audit.db', 'data/hoziron.db']) {
      expect(lstatSync(join(target, secret)).mode & 0o7777, secret).toBe(0o600);
    }
    const walk = (rel: string): void => {
      for (const name of readdirSync(join(target, rel))) {
        const path = `${rel}/${name}`;
        const mode = lstatSync(join(target, path)).mode;
        if (lstatSync(join(target, path)).isDirectory()) {
          expect(mode & 0o7777, path).toBe(0o700);
          walk(path);
        } else expect(mode & 0o7777, path).toBe(0o644);
      }
    };
    for (const d of ['agents', 'memory', 'skills']) {
      expect(lstatSync(join(target, 'data', d)).mode & 0o7777).toBe(0o700);
      walk(`data/${d}`);
    }
  });
});

describe('restore: preflight lets no unusable home in', () => {
  it('refuses an archive whose config.toml does not validate, naming the file and the key', async () => {
    const bad = await repack(full, (dir) => {
      const cfg = join(dir, 'config.toml');
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^retention = .*$/m, 'retention = 0'));
    });
    await expectRefused(bad, /config\.toml: backup\.retention: expected an integer of at least 1, found 0/);
  });

  it('refuses an archive whose config.toml is not TOML', async () => {
    const bad = await repack(full, (dir) => writeFileSync(join(dir, 'config.toml'), '[server\nlisten = \n'));
    await expectRefused(bad, /config\.toml: not valid TOML at line 1/);
  });

  it('refuses a data/hoziron.db at user_version 0 that already has a kv table (not a bare "table kv already exists")', async () => {
    const memory = dbBytes('v0-with-kv.db', (db) => db.exec('CREATE TABLE kv (x)'));
    const files = [...baseFiles(), { path: 'data/hoziron.db', content: memory, mode: 0o600 }];
    const bad = writeArchive(join(tmp.dir, 'v0-kv.tar.gz'), await tarBytes(entriesFor(files), manifestFor(files, baseDirs)));
    await expectRefused(bad, /data\/hoziron\.db has schema version 0 and cannot be migrated to 1: table kv already exists/);
  });

  it('refuses a keys.db at the current schema version without the table this version uses', async () => {
    const bad = await repack(full, (dir) => {
      rmSync(join(dir, 'keys.db'));
      writeFileSync(
        join(dir, 'keys.db'),
        dbBytes('keys-no-table.db', (db) => {
          db.exec('CREATE TABLE other (x)');
          db.pragma('user_version = 1');
        }),
      );
    });
    await expectRefused(bad, /keys\.db has no table api_keys/);
  });

  it('refuses a full archive without keys.db, and one without audit.db', async () => {
    await expectRefused(await repack(full, (dir) => rmSync(join(dir, 'keys.db'))), /a full backup must hold keys\.db/);
    await expectRefused(await repack(full, (dir) => rmSync(join(dir, 'audit.db'))), /a full backup must hold audit\.db/);
  });

  it('refuses an agents archive without the memory database', async () => {
    await expectRefused(
      await repack(agents, (dir) => rmSync(join(dir, 'data/hoziron.db'))),
      /an? agents backup must hold data\/hoziron\.db/,
    );
  });

  it('lists in the plan a config that changes behaviour: listen off loopback, another storage path', async () => {
    const changed = await repack(full, (dir) => {
      const cfg = join(dir, 'config.toml');
      const text = readFileSync(cfg, 'utf8')
        .replace(/^listen = .*$/m, 'listen = "0.0.0.0:4200"')
        .replace(/^storage_path = .*$/m, 'storage_path = "/srv/elsewhere"');
      writeFileSync(cfg, text);
    });
    const j = await cli(home, 'backup', 'restore', changed, '--json');
    expect(j.code, j.stderr).toBe(0);
    const plan = JSON.parse(j.stdout) as { changes: { behaviour: { key: string; before: string; after: string; note?: string }[] } };
    expect(plan.changes.behaviour).toEqual([
      { key: 'server.listen', before: '127.0.0.1:4200', after: '0.0.0.0:4200', note: expect.stringMatching(/not a loopback/) },
      { key: 'backup.storage_path', before: join(home, 'backups'), after: '/srv/elsewhere', note: expect.any(String) },
    ]);
    const human = await cli(home, 'backup', 'restore', changed);
    expect(human.stdout).toMatch(/^ {2}setting: {2}server\.listen 127\.0\.0\.1:4200 → 0\.0\.0\.0:4200 \(.*loopback/m);
    expect(human.stdout).toMatch(/^ {2}setting: {2}backup\.storage_path .* → \/srv\/elsewhere/m);
  });
});

describe('restore: revoked API keys stay revoked', () => {
  it('a key revoked after the backup does not work again after restoring it; the plan names the keys that change', async () => {
    const h = join(tmp.dir, 'keys-home');
    await makeHome(h);
    const viewer = JSON.parse((await cli(h, 'key', 'create', '--role', 'viewer', '--name', 'ci', '--json')).stdout) as {
      id: string;
      token: string;
    };
    const backup = (JSON.parse((await cli(h, 'backup', 'create', '--json')).stdout) as { path: string }).path;
    expect((await cli(h, 'key', 'revoke', viewer.id)).code).toBe(0);
    const later = JSON.parse((await cli(h, 'key', 'create', '--role', 'operator', '--name', 'late', '--json')).stdout) as {
      id: string;
      token: string;
    };

    const dry = await cli(h, 'backup', 'restore', backup, '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { changes: { keys: Record<string, unknown[]> } };
    expect(plan.changes.keys).toEqual({
      come_back: [],
      go_away: [{ id: later.id, name: 'late', role: 'operator' }],
      kept_revoked: [{ id: viewer.id, name: 'ci', role: 'viewer' }],
    });
    expect(dry.stdout).not.toContain(viewer.token);
    expect(dry.stdout).not.toMatch(/sha256|hash"/);
    expect((await cli(h, 'backup', 'restore', backup)).stdout).toMatch(new RegExp(`API keys kept revoked .*${viewer.id} \\(ci, viewer\\)`));

    const r = await cli(h, 'backup', 'restore', backup, '--confirm', '--json');
    expect(r.code, r.stderr).toBe(0);
    const keys = JSON.parse((await cli(h, 'key', 'list', '--json')).stdout) as { id: string; revoked_at: string | null }[];
    expect(keys.find((k) => k.id === viewer.id)?.revoked_at).toEqual(expect.any(String));
    expect(keys.find((k) => k.id === later.id)).toBeUndefined();
    expect((await cli(h, 'audit', 'verify')).code).toBe(0);
  });
});

describe('init and doctor: the home directory is private', () => {
  it('doctor warns about a home directory open to others; init tightens it to 0700', async () => {
    const h = join(tmp.dir, 'mode-home');
    await makeHome(h, 0);
    chmodSync(h, 0o755);
    const d1 = await cli(h, 'doctor', '--json');
    const check = (out: string) =>
      (JSON.parse(out) as { checks: { check: string; status: string; message: string }[] }).checks.find((c) => c.check === 'home mode');
    expect(check(d1.stdout)).toMatchObject({ status: 'warn', message: expect.stringMatching(/mode 0755; want 0700 \(run `hoziron init`/) });
    const init = await cli(h, 'init');
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/Tightened the mode of .* from 0755 to 0700/);
    expect(lstatSync(h).mode & 0o7777).toBe(0o700);
    expect(check((await cli(h, 'doctor', '--json')).stdout)).toMatchObject({ status: 'ok' });
  });
});
