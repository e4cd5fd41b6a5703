import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, runCliAsync, tempDir } from '../support/cli.js';
import { baseDirs, baseFiles, entriesFor, manifestFor, tarBytes, writeArchive } from '../restore/support/archives.js';
import { createJson, listJson, makeHome, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

function setStoragePath(t: TestHome, path: string): void {
  const cfg = join(t.home, 'config.toml');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^storage_path = .*$/m, `storage_path = ${JSON.stringify(path)}`));
}

/** One `error:` line, perhaps one `hint:` line, and no stack trace. */
function expectOneError(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(/^error: [^\n]+\n(hint: [^\n]+\n)?$/);
  expect(stderr).toMatch(pattern);
}

describe('broken state is refused, not accepted silently', () => {
  it('refuses a configured storage_path that does not exist (an unmounted share) and creates nothing', async () => {
    h = makeHome();
    const share = join(h.dir, 'mnt', 'nfs', 'hoziron');
    setStoragePath(h, share);
    for (const args of [
      ['backup', 'list'],
      ['backup', 'create'],
      ['backup', 'prune'],
      ['backup', 'verify', 'x.tar.gz'],
    ]) {
      const r = await h.cli(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expectOneError(r.stderr, new RegExp(`^error: the backup storage ${share} .*does not exist$`, 'm'));
      expect(r.stderr).toMatch(/^hint: mount it/m);
    }
    expect(existsSync(join(h.dir, 'mnt'))).toBe(false);
    // Once it is there, it works.
    mkdirSync(share, { recursive: true, mode: 0o700 });
    const rec = await createJson(h);
    expect(rec.path.startsWith(share)).toBe(true);
  });

  it('still creates the default storage <home>/backups when it is missing', async () => {
    h = makeHome();
    rmSync(h.storage, { recursive: true, force: true });
    expect(await listJson(h)).toEqual([]);
    expect(existsSync(h.storage)).toBe(false);
    await createJson(h);
    expect(existsSync(h.storage)).toBe(true);
  });

  it('refuses a full backup of a home without audit.db, naming the file, and writes no archive', async () => {
    h = makeHome();
    rmSync(join(h.home, 'audit.db'));
    const r = await h.cli('backup', 'create');
    expect(r.code).toBe(1);
    expectOneError(r.stderr, /^error: cannot back up .*: audit\.db is missing/m);
    expect(readdirSync(h.storage).filter((n) => !n.startsWith('.'))).toEqual([]);
    // An agents-only backup does not need it.
    expect((await createJson(h, '--agents-only')).scope).toBe('agents');
  });

  it('a restore refuses a full archive without its required files before extracting anything', async () => {
    h = makeHome();
    const files = [...baseFiles(), { path: 'config.toml', content: '' }];
    const archive = writeArchive(join(h.dir, 'no-audit.tar.gz'), await tarBytes(entriesFor(files), manifestFor(files, baseDirs, 'full')));
    const before = readdirSync(h.home).sort();
    for (const confirm of [[], ['--confirm']]) {
      const r = await h.cli('backup', 'restore', archive, ...confirm);
      expect(r.code).toBe(1);
      expectOneError(r.stderr, /this archive has no keys\.db and no audit\.db and no data\/hoziron\.db/);
    }
    expect(readdirSync(h.home).sort()).toEqual(before);
    expect(readdirSync(h.storage).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  it('treats an empty HOZIRON_HOME= as unset, not as the current directory', () => {
    const t = tempDir('hoziron-emptyhome-');
    try {
      const cwd = join(t.dir, 'cwd');
      mkdirSync(cwd);
      const r = spawnSync(process.execPath, [BIN, 'init', '--json'], {
        cwd,
        env: { PATH: process.env.PATH, HOME: t.dir, HOZIRON_HOME: '' },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(cwd)).toEqual([]);
      expect(existsSync(join(t.dir, '.hoziron', 'config.toml'))).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});

describe('ids that are awkward', () => {
  it('explains that an id prefix needs 8 characters', async () => {
    h = makeHome();
    const rec = await createJson(h);
    const r = await h.cli('backup', 'show', rec.id.slice(0, 4));
    expect(r.code).toBe(1);
    expectOneError(r.stderr, /an id prefix must be at least 8 characters/);
    const ok = await h.cli('backup', 'show', rec.id.slice(0, 8), '--json');
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('an archive copied under another name: list shows file names, the ambiguous id lists both, the file name picks one', async () => {
    h = makeHome();
    const rec = await createJson(h);
    const copy = join(h.storage, 'copy-of-backup.tar.gz');
    copyFileSync(rec.path, copy);
    const listed = await listJson(h);
    expect(listed.map((r) => r.file).sort()).toEqual([basename(rec.path), 'copy-of-backup.tar.gz'].sort());
    const table = await h.cli('backup', 'list');
    expect(table.stdout).toMatch(/^ID\s+CREATED\s+SCOPE\s+SIZE\s+FILE$/m);
    expect(table.stdout).toMatch(/\scopy-of-backup\.tar\.gz$/m);

    const before = readdirSync(h.storage).sort();
    const amb = await h.cli('backup', 'delete', rec.id);
    expect(amb.code).toBe(2);
    expectOneError(amb.stderr, new RegExp(`matches 2 backups: .*${basename(rec.path).replace(/\./g, '\\.')}`));
    expect(amb.stderr).toMatch(/copy-of-backup\.tar\.gz/);
    expect(readdirSync(h.storage).sort()).toEqual(before);

    // A file name as `ls backups/` shows it works from any directory (here: the repository's).
    const show = await h.cli('backup', 'show', 'copy-of-backup.tar.gz', '--json');
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { path: string }).path).toBe(copy);
    const dry = await h.cli('backup', 'restore', basename(rec.path), '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const del = await h.cli('backup', 'delete', 'copy-of-backup.tar.gz');
    expect(del.code, del.stderr).toBe(0);
    expect((await listJson(h)).map((r) => r.path)).toEqual([rec.path]);
  });

  it('a file name found neither here nor in storage is one clear error', async () => {
    h = makeHome();
    const r = await h.cli('backup', 'show', 'nope.tar.gz');
    expect(r.code).toBe(1);
    expectOneError(r.stderr, /no archive nope\.tar\.gz in the current directory or in the backup storage/);
  });
});

describe('a created archive without its audit event', () => {
  type Event = { actor: string; action: string; target: string; detail: { recovered?: boolean } };
  async function events(t: TestHome): Promise<Event[]> {
    const r = await t.cli('audit', 'tail', '-n', '200', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Event[];
  }
  const creates = (ev: Event[], id: string) => ev.filter((e) => e.action === 'backup.create' && e.target === id);

  it('a create killed right after linking its archive is audited by the next command, once', async () => {
    h = makeHome();
    const killed = await runCliAsync(['--home', h.home, 'backup', 'create'], { env: { HOZIRON_TEST_KILL_AFTER_LINK: '1' } });
    expect(killed.code).not.toBe(0);
    const [rec] = await listJson(h);
    expect(rec).toBeDefined();
    expect(creates(await events(h), rec!.id)).toEqual([]);

    const prune = await h.cli('backup', 'prune');
    expect(prune.code, prune.stderr).toBe(0);
    const after = creates(await events(h), rec!.id);
    expect(after).toHaveLength(1);
    expect(after[0]!.detail.recovered).toBe(true);
    // Idempotent: the next locked commands add nothing.
    await createJson(h);
    expect(creates(await events(h), rec!.id)).toHaveLength(1);
  });

  it('an archive and its sidecars copied into storage are audited by the next locked command', async () => {
    h = makeHome();
    const outside = join(h.dir, 'elsewhere.tar.gz');
    const rec = await createJson(h, '--output', outside);
    // An archive made by another home: this home's audit trail has never heard of its id.
    const other = makeHome();
    try {
      const foreign = await createJson(other, '--output', join(other.dir, 'foreign.tar.gz'));
      for (const suffix of ['', '.sha256', '.json']) copyFileSync(`${foreign.path}${suffix}`, join(h.storage, `foreign.tar.gz${suffix}`));
      expect(creates(await events(h), foreign.id)).toEqual([]);
      const dry = await h.cli('backup', 'prune', '--dry-run');
      expect(dry.code, dry.stderr).toBe(0);
      expect(creates(await events(h), foreign.id)).toEqual([]); // a dry run changes nothing
      const p = await h.cli('backup', 'prune');
      expect(p.code, p.stderr).toBe(0);
      expect(p.stderr).toMatch(/recorded the creation of foreign\.tar\.gz/);
      expect(creates(await events(h), foreign.id).map((e) => e.detail.recovered)).toEqual([true]);
      expect(creates(await events(h), rec.id)).toHaveLength(1);
    } finally {
      other.cleanup();
    }
  });
});
