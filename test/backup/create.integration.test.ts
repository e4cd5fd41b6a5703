import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { originTag } from '../../src/fsutil/owner.js';
import { ageFile } from '../support/owner.js';
import { createJson, gnuTarExtract, gnuTarList, listJson, makeHome, sh, sha256, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

describe('hoziron backup create', () => {
  it('writes a tar.gz that GNU tar reads without warning, MANIFEST.json first, every file matching its hash', async () => {
    h = makeHome();
    const rec = await createJson(h);
    expect(rec).toMatchObject({ scope: 'full', size_bytes: statSync(rec.path).size });
    expect(rec.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(dirname(rec.path)).toBe(h.storage);
    expect(basename(rec.path)).toMatch(/^hoziron-backup-\d{8}_\d{6}\.tar\.gz$/);
    expect(statSync(rec.path).mode & 0o777).toBe(0o600);
    expect(statSync(h.storage).mode & 0o777).toBe(0o700);

    const names = gnuTarList(rec.path);
    expect(names[0]).toBe('MANIFEST.json');
    const out = join(h.dir, 'x');
    const manifest = gnuTarExtract(rec.path, out);
    expect(manifest.id).toBe(rec.id);
    expect(manifest.audit_head?.seq).toBeGreaterThan(0);
    const paths = manifest.files.map((f) => f.path).sort();
    expect(paths).toEqual(
      [
        '.env',
        'audit.db',
        'config.toml',
        'data/agents/alpha/agent.toml',
        'data/agents/alpha/state.json',
        'data/agents/beta/agent.toml',
        'data/agents/beta/state.json',
        'data/hoziron.db',
        'data/memory/notes.md',
        'data/workflows/daily.yaml',
        'keys.db',
      ].sort(),
    );
    expect(manifest.dirs.map((d) => d.path)).toContain('data/memory/empty-folder');
    for (const f of manifest.files) {
      expect(statSync(join(out, f.path)).size, f.path).toBe(f.size);
      expect(sha256(join(out, f.path)), f.path).toBe(f.sha256);
    }
    // Nothing unlisted in the archive, and no wal/shm/backups/run entries.
    const listed = new Set([...manifest.files.map((f) => f.path), ...manifest.dirs.map((d) => d.path), 'MANIFEST.json']);
    for (const n of names) expect(listed.has(n.replace(/\/$/, '')), n).toBe(true);
    expect(names.some((n) => /-(wal|shm)$|^backups|^run/.test(n))).toBe(false);

    // sha256sum -c on the sidecar passes; the record's checksum is the file's.
    const c = sh('sha256sum', ['-c', `${basename(rec.path)}.sha256`], h.storage);
    expect(c.code, c.stderr).toBe(0);
    expect(rec.checksum).toBe(`sha256:${sha256(rec.path)}`);
    expect(statSync(`${rec.path}.sha256`).mode & 0o777).toBe(0o600);

    // Python's tarfile reads it too.
    const py = sh('python3', ['-c', 'import sys,tarfile; t=tarfile.open(sys.argv[1]); print(t.getnames()[0])', rec.path]);
    expect(py.code, py.stderr).toBe(0);
    expect(py.stdout.trim()).toBe('MANIFEST.json');

    // The list shows it, newest first, with the ID/CREATED/SCOPE/SIZE table.
    expect((await listJson(h)).map((r) => r.id)).toEqual([rec.id]);
    const table = await h.cli('backup', 'list');
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+CREATED\s+SCOPE\s+SIZE\s+FILE$/);
    expect(table.stdout).toMatch(new RegExp(`${rec.id}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+Full\\s+\\d`));
  });

  it('captures a row committed by another process that still holds hoziron.db open in WAL mode', async () => {
    h = makeHome();
    const db = join(h.home, 'data', 'hoziron.db');
    // A writer that commits, keeps the connection open and never checkpoints.
    const script = `
      const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new Database(${JSON.stringify(db)});
      db.pragma('journal_mode = WAL'); db.pragma('wal_autocheckpoint = 0');
      db.prepare("INSERT INTO kv (agent, key, value, updated_at) VALUES ('alpha', 'only-in-wal', '42', 'now')").run();
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`;
    const writer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()));
      expect(statSync(`${db}-wal`).size).toBeGreaterThan(0);
      const rec = await createJson(h);
      const out = join(h.dir, 'x');
      const manifest = gnuTarExtract(rec.path, out);
      expect(manifest.files.some((f) => f.path.endsWith('-wal'))).toBe(false);
      const snap = new Database(join(out, 'data', 'hoziron.db'), { readonly: true });
      try {
        expect(snap.pragma('integrity_check', { simple: true })).toBe('ok');
        expect(snap.prepare("SELECT value FROM kv WHERE key = 'only-in-wal'").get()).toEqual({ value: '42' });
      } finally {
        snap.close();
      }
    } finally {
      writer.kill('SIGKILL');
    }
  });

  it('--agents-only archives only data/agents/, data/memory/ and data/hoziron.db', async () => {
    h = makeHome();
    const rec = await createJson(h, '--agents-only');
    expect(rec.scope).toBe('agents');
    const names = gnuTarList(rec.path);
    expect(names[0]).toBe('MANIFEST.json');
    for (const n of names.slice(1)) expect(n, n).toMatch(/^(data\/agents(\/|$)|data\/memory(\/|$)|data\/hoziron\.db$)/);
    const manifest = gnuTarExtract(rec.path, join(h.dir, 'x'));
    expect(manifest.scope).toBe('agents');
    expect(manifest.audit_head).toBeNull();
    expect(manifest.files.map((f) => f.path)).toContain('data/hoziron.db');
    expect((await h.cli('backup', 'list')).stdout).toMatch(/\sAgents\s/);
  });

  it('--output writes the archive where asked, with its sidecars, and refuses to replace a file', async () => {
    h = makeHome();
    const target = join(h.dir, 'elsewhere', 'my-backup.tar.gz');
    const missingDir = await h.cli('backup', 'create', '--output', target);
    expect(missingDir.code).toBe(2);
    expect(missingDir.stderr).toMatch(/^error: the output directory .* does not exist/m);
    sh('mkdir', [dirname(target)]);
    const rec = await createJson(h, '--output', target);
    expect(rec.path).toBe(target);
    expect(existsSync(`${target}.sha256`)).toBe(true);
    expect(sh('sha256sum', ['-c', 'my-backup.tar.gz.sha256'], dirname(target)).code).toBe(0);
    expect(gnuTarList(target)[0]).toBe('MANIFEST.json');
    const before = sha256(target);
    const again = await h.cli('backup', 'create', '--output', target);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    expect(sha256(target)).toBe(before);
    expect(readdirSync(dirname(target)).sort()).toEqual(['my-backup.tar.gz', 'my-backup.tar.gz.json', 'my-backup.tar.gz.sha256']);

    // What a create killed while writing there left behind (a dead pid's temporary body) is
    // removed by the next create into that directory; the operator's own files are not.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const leftover = join(dirname(target), `.hoziron-tmp-${deadPid}-1-${originTag()}-0123abcd.body`);
    writeFileSync(leftover, 'half an archive');
    // One left by an older version (pid only) goes once its mtime is older than the limit.
    const legacy = join(dirname(target), `.hoziron-tmp-${deadPid}-0123abcd.body`);
    writeFileSync(legacy, 'half an archive');
    ageFile(legacy, 10 * 60_000);
    writeFileSync(join(dirname(target), 'notes.txt'), 'mine');
    expect((await createJson(h, '--output', join(dirname(target), 'second.tar.gz'))).path).toMatch(/second\.tar\.gz$/);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(legacy)).toBe(false);
    expect(readFileSync(join(dirname(target), 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('archives long and non-ASCII names (pax) that GNU tar and verify read back', async () => {
    h = makeHome();
    const dir = join(h.home, 'data', 'memory', 'd'.repeat(120), 'é-ünï');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${'f'.repeat(110)}.md`);
    writeFileSync(file, 'long\n');
    const rec = await createJson(h);
    const rel = file.slice(h.home.length + 1);
    expect(gnuTarList(rec.path)).toContain(rel);
    const manifest = gnuTarExtract(rec.path, join(h.dir, 'x'));
    expect(manifest.files.find((f) => f.path === rel)?.sha256).toBe(sha256(join(h.dir, 'x', rel)));
    const v = await h.cli('backup', 'verify', rec.id);
    expect(v.code, v.stderr).toBe(0);
  });

  it('prints exactly one JSON document with --json and nothing on stderr', async () => {
    h = makeHome();
    const r = await h.cli('backup', 'create', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const rec = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['id', 'path', 'scope', 'created_at', 'checksum', 'size_bytes']) expect(rec).toHaveProperty(k);
    writeFileSync(join(h.storage, 'not-ours.tar.gz'), 'hello');
    const l = await h.cli('backup', 'list', '--json');
    expect((JSON.parse(l.stdout) as unknown[]).length).toBe(1);
  });
});
