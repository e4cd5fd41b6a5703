/**
 * `backup verify` against restore (issue 10 items 5, 6, 7): verify refuses exactly what a
 * restore refuses, works on a full or read-only storage (it unpacks nothing there), says
 * where its checksum came from, and refuses an oversized manifest at once.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { entriesFor, manifestFor, sha256, tarBytes, writeArchive } from '../restore/support/archives.js';
import { cli, makeHome } from '../restore/support/home.js';

const tmp = tempDir('hoziron-verify-restorable-');
const mounts: string[] = [];

/** Whether this process may mount a tmpfs (root in a privileged container). */
function canMount(): boolean {
  const probe = join(tmp.dir, 'probe');
  mkdirSync(probe, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]);
  if (r.status !== 0) return false;
  spawnSync('umount', [probe]);
  return true;
}
const mountable = canMount();

function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
}

function remountReadOnly(dir: string): void {
  execFileSync('mount', ['-o', 'remount,ro', dir]);
}

function setStorage(home: string, dir: string): void {
  const path = join(home, 'config.toml');
  writeFileSync(path, readFileSync(path, 'utf8').replace(/^storage_path = .*$/m, `storage_path = ${JSON.stringify(dir)}`));
}

afterAll(() => {
  for (const dir of mounts.reverse()) spawnSync('umount', ['-l', dir]);
  tmp.cleanup();
});

/** The files of a real full backup of `home`, as GNU tar extracts them. */
async function realFullFiles(home: string): Promise<{ path: string; content: Buffer; mode: number }[]> {
  const r = await cli(home, 'backup', 'create', '--json');
  expect(r.code, r.stderr).toBe(0);
  const archive = (JSON.parse(r.stdout) as { path: string }).path;
  const out = join(tmp.dir, `extract-${Date.now()}`);
  mkdirSync(out);
  execFileSync('tar', ['-xzf', archive, '-C', out]);
  const manifest = JSON.parse(readFileSync(join(out, 'MANIFEST.json'), 'utf8')) as { files: { path: string; mode: number }[] };
  return manifest.files.map((f) => ({ path: f.path, content: readFileSync(join(out, f.path)), mode: f.mode }));
}

describe('verify refuses what restore refuses (one implementation)', () => {
  let home: string;
  let files: { path: string; content: Buffer; mode: number }[];
  beforeAll(async () => {
    home = join(tmp.dir, 'home');
    await makeHome(home);
    files = await realFullFiles(home);
  });

  const build = async (name: string, change: (f: typeof files) => typeof files, tweak?: (m: ReturnType<typeof manifestFor>) => void) => {
    const chosen = change(files.map((f) => ({ ...f })));
    const m = manifestFor(chosen, [], 'full');
    tweak?.(m);
    return writeArchive(join(tmp.dir, `${name}.tar.gz`), await tarBytes(entriesFor(chosen, []), m));
  };

  const newerKeys = (f: typeof files) => {
    const db = join(tmp.dir, `keys-${Date.now()}.db`);
    writeFileSync(db, f.find((x) => x.path === 'keys.db')!.content);
    const h = new Database(db);
    h.pragma('journal_mode = DELETE');
    h.pragma('user_version = 99');
    h.close();
    return f.map((x) => (x.path === 'keys.db' ? { ...x, content: readFileSync(db) } : x));
  };

  const cases: [string, () => Promise<string>, RegExp][] = [
    [
      'an invalid config.toml inside the archive',
      () =>
        build('bad-config', (f) =>
          f.map((x) => (x.path === 'config.toml' ? { ...x, content: Buffer.from('[server]\nlisten = 42\n') } : x)),
        ),
      /config\.toml: server\.listen/,
    ],
    ['a database schema newer than this version', () => build('newer-schema', newerKeys), /keys\.db has schema version 99, newer/],
    [
      'a full archive without keys.db',
      () => build('no-keys', (f) => f.filter((x) => x.path !== 'keys.db')),
      /a full backup must hold keys\.db/,
    ],
    [
      'a newer archive format',
      () =>
        build(
          'format2',
          (f) => f,
          (m) => (m.format = 2),
        ),
      /format 2 is newer/,
    ],
  ];

  for (const [name, make, pattern] of cases) {
    it(`refuses ${name} in verify and in restore, with the same message`, async () => {
      const path = await make();
      const verify = await cli(home, 'backup', 'verify', path);
      const restore = await cli(home, 'backup', 'restore', path);
      expect(restore.code, restore.stderr).toBe(1);
      expect(restore.stderr).toMatch(pattern);
      expect(verify.code, verify.stdout).toBe(1);
      expect(verify.stderr).toMatch(pattern);
      expect(existsSync(join(home, '.restore'))).toBe(false);
    });
  }

  it('passes the same files when nothing is wrong (the cases above differ by one thing)', async () => {
    const path = await build('sound', (f) => f);
    const verify = await cli(home, 'backup', 'verify', path, '--json');
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, databases_checked: ['keys.db', 'audit.db', 'data/hoziron.db'] });
  });
});

describe('verify unpacks nothing into the storage', () => {
  it.skipIf(!mountable)('verifies a sound archive on read-only storage (EROFS), and says it could not record it', async () => {
    const home = join(tmp.dir, 'ro-home');
    await makeHome(home);
    const storage = join(tmp.dir, 'ro-storage');
    mountTmpfs(storage, '64m');
    setStorage(home, storage);
    const created = await cli(home, 'backup', 'create', '--json');
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    remountReadOnly(storage);
    const before = readdirSync(storage).sort();
    const r = await cli(home, 'backup', 'verify', id, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; checksum_source: string; warnings: string[] };
    expect(report).toMatchObject({ ok: true, checksum_source: 'sidecar' });
    expect(report.warnings.join('\n')).toMatch(/could not record the verification.*read-only/);
    expect(readdirSync(storage).sort()).toEqual(before);
    expect(existsSync(join(home, '.restore'))).toBe(false);
  });

  it.skipIf(!mountable)('verifies a sound archive whose unpacked size is larger than the storage has free', async () => {
    const home = join(tmp.dir, 'full-home');
    await makeHome(home);
    // 40 MB that compresses to almost nothing: the archive fits, its contents do not.
    writeFileSync(join(home, 'data/memory/big.txt'), Buffer.alloc(40 * 1024 * 1024, 'a'));
    const storage = join(tmp.dir, 'small-storage');
    mountTmpfs(storage, '8m');
    setStorage(home, storage);
    const created = await cli(home, 'backup', 'create', '--json');
    expect(created.code, created.stderr).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const r = await cli(home, 'backup', 'verify', id, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, unpacked_bytes: expect.any(Number) as number });
  });
});

describe('checksum honesty', () => {
  let home: string;
  let copied: string;
  let hex: string;
  beforeAll(async () => {
    home = join(tmp.dir, 'sum-home');
    await makeHome(home);
    const r = await cli(home, 'backup', 'create', '--json');
    const { path } = JSON.parse(r.stdout) as { path: string };
    // As if downloaded: the archive alone, under another name, in the storage.
    copied = join(home, 'backups', 'downloaded.tar.gz');
    copyFileSync(path, copied);
    hex = sha256(readFileSync(copied));
  });

  it('an archive copied in without a .sha256 is reported as having no recorded checksum, even after list hashed it', async () => {
    expect((await cli(home, 'backup', 'list')).code).toBe(0);
    const r = await cli(home, 'backup', 'verify', copied, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ checksum_verified: false, checksum_source: 'none' });
    const human = await cli(home, 'backup', 'verify', copied);
    expect(human.stdout).toMatch(/no recorded checksum/);
  });

  it("--checksum compares with the operator's value: a match verifies, a mismatch fails", async () => {
    const ok = await cli(home, 'backup', 'verify', copied, '--checksum', `sha256:${hex}`, '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ checksum_verified: true, checksum_source: 'operator' });
    const bad = await cli(home, 'backup', 'verify', copied, '--checksum', `sha256:${'0'.repeat(64)}`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/checksum mismatch.*from the checksum given/);
  });

  it('restores a downloaded archive on a new machine: refused without a checksum, with a clear hint; done with --checksum', async () => {
    const fresh = join(tmp.dir, 'new-machine');
    await makeHome(fresh, 1);
    const download = join(tmp.dir, 'download.tar.gz');
    copyFileSync(copied, download);
    const refused = await cli(fresh, 'backup', 'restore', download, '--confirm');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*no recorded checksum/m);
    expect(refused.stderr).toMatch(/^hint: pass --checksum sha256:<hex>.*--no-verify/m);
    const done = await cli(fresh, 'backup', 'restore', download, '--confirm', '--checksum', `sha256:${hex}`, '--json');
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ checksum_verified: true, checksum_source: 'operator' });
    expect(readFileSync(join(fresh, 'data/agents/agent-2/agent.toml'), 'utf8')).toBe('name = "agent-2"\n');
  });
});

describe('resource bounds', () => {
  it('refuses a 64 MiB manifest from its header, naming the limit, without reading it', async () => {
    const home = join(tmp.dir, 'bounds-home');
    await makeHome(home, 1);
    const body = Buffer.alloc(64 * 1024 * 1024, 0x20);
    Buffer.from('{"format":1').copy(body);
    body[body.length - 1] = 0x7d;
    const path = join(tmp.dir, 'huge-manifest.tar.gz');
    writeFileSync(path, gzipSync(await tarBytes([], body.toString('latin1'))));
    writeFileSync(`${path}.sha256`, `${sha256(readFileSync(path))}  huge-manifest.tar.gz\n`);
    const r = await cli(home, 'backup', 'verify', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*MANIFEST\.json is 67108864 bytes, more than the 50331648 allowed$/m);
  });
});
