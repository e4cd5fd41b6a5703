import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PruneResult } from '../../src/api/types.js';
import { BIN } from '../support/cli.js';
import { deadPid, ownerRecord } from '../support/owner.js';
import { createJson, gnuTarExtract, listJson, makeHome, setRetention, sha256, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

function storageNames(t: TestHome): string[] {
  return readdirSync(t.storage).sort();
}

describe('backup retention, delete and prune', () => {
  it('with retention = 2, four creates leave the two newest', async () => {
    h = makeHome();
    setRetention(h, 2);
    const ids = [] as string[];
    for (let i = 0; i < 4; i++) ids.push((await createJson(h)).id);
    expect((await listJson(h)).map((r) => r.id)).toEqual([ids[3], ids[2]]);
    expect(storageNames(h).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(2);
    // Only archives and their two sidecars remain: no orphans, no temp files.
    expect(storageNames(h).every((n) => /\.tar\.gz(\.sha256|\.json)?$/.test(n))).toBe(true);
  });

  it('prune --keep and delete remove archives with their sidecars; bad input changes nothing', async () => {
    h = makeHome();
    const a = await createJson(h);
    const b = await createJson(h);
    const c = await createJson(h);
    const before = storageNames(h);
    const unknown = await h.cli('backup', 'delete', 'no-such-backup');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: no backup with id "no-such-backup"/m);
    const badKeep = await h.cli('backup', 'prune', '--keep', '0');
    expect(badKeep.code).toBe(2);
    expect(badKeep.stderr).toMatch(/^error: .*--keep/m);
    expect((await h.cli('backup', 'prune', '--keep', 'x')).code).toBe(2);
    expect(storageNames(h)).toEqual(before);

    const del = await h.cli('backup', 'delete', b.id);
    expect(del.code, del.stderr).toBe(0);
    expect(existsSync(b.path) || existsSync(`${b.path}.sha256`) || existsSync(`${b.path}.json`)).toBe(false);
    expect((await listJson(h)).map((r) => r.id)).toEqual([c.id, a.id]);

    const prune = await h.cli('backup', 'prune', '--keep', '1', '--json');
    expect(prune.code, prune.stderr).toBe(0);
    expect((JSON.parse(prune.stdout) as PruneResult).deleted.map((r) => r.id)).toEqual([a.id]);
    expect((await listJson(h)).map((r) => r.id)).toEqual([c.id]);

    const audit = await h.cli('audit', 'tail', '-n', '20');
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/backup\.delete/);
    expect(audit.stdout).toMatch(/backup\.prune/);
  });

  it('lists an archive copied in and forgets one deleted by hand', async () => {
    h = makeHome();
    const a = await createJson(h, '--output', join(h.dir, 'outside.tar.gz'));
    expect(await listJson(h)).toEqual([]);
    const copy = join(h.storage, 'copied.tar.gz');
    writeFileSync(copy, readFileSync(a.path));
    const listed = await listJson(h);
    expect(listed.map((r) => [r.id, r.path, r.checksum])).toEqual([[a.id, copy, `sha256:${sha256(copy)}`]]);
    rmSync(copy);
    expect(await listJson(h)).toEqual([]);
    // Its summary sidecar is gone too after the next command.
    expect(storageNames(h).filter((n) => n.startsWith('copied'))).toEqual([]);
  });
});

describe('the backup lock', () => {
  it('refuses while a live process holds the lock, and changes nothing', async () => {
    h = makeHome();
    const holder = spawn('sleep', ['30']);
    try {
      writeFileSync(
        join(h.storage, '.hoziron-backup.lock'),
        JSON.stringify({ pid: holder.pid, operation: 'create', started_at: new Date().toISOString(), token: 'x' }),
      );
      const r = await h.cli('backup', 'create');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: another backup operation is running: create \\(pid ${holder.pid}`, 'm'));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(storageNames(h)).toEqual(['.hoziron-backup.lock']);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over a lock whose owner is dead', async () => {
    h = makeHome();
    writeFileSync(join(h.storage, '.hoziron-backup.lock'), JSON.stringify({ ...ownerRecord({ pid: deadPid() }), operation: 'create' }));
    const rec = await createJson(h);
    expect(existsSync(rec.path)).toBe(true);
    expect(existsSync(join(h.storage, '.hoziron-backup.lock'))).toBe(false);
  });

  it('a create killed with SIGKILL leaves no listed archive and no leftover after the next command', async () => {
    h = makeHome();
    // Enough incompressible data that the create is still running when it is killed.
    const big = Buffer.alloc(64 * 1024 * 1024);
    randomFillSync(big);
    writeFileSync(join(h.home, 'data', 'skills', 'big.tar.gz'), big);
    const child = spawn(process.execPath, [BIN, '--home', h.home, 'backup', 'create'], { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    while (!storageNames(h).some((n) => n.startsWith('.hoziron-tmp-') && n.endsWith('.body')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(storageNames(h).some((n) => n.startsWith('.hoziron-tmp-'))).toBe(true);
    expect(storageNames(h)).toContain('.hoziron-backup.lock'); // left by the killed create, taken over below
    expect(await listJson(h)).toEqual([]);
    expect(storageNames(h)).toEqual([]);
    // And a locked command after it works; the streamed large file matches its manifest line.
    const rec = await createJson(h);
    const manifest = gnuTarExtract(rec.path, join(h.dir, 'x'));
    const line = manifest.files.find((f) => f.path === 'data/skills/big.tar.gz');
    expect(line).toMatchObject({ size: big.length, sha256: sha256(join(h.home, 'data', 'skills', 'big.tar.gz')) });
    expect(sha256(join(h.dir, 'x', 'data', 'skills', 'big.tar.gz'))).toBe(line?.sha256);
  });
});
