import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createJson, makeHome, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

describe('hoziron backup verify and show', () => {
  it('passes on a fresh archive, records when, and show reports it', async () => {
    h = makeHome();
    const rec = await createJson(h);
    const before = await h.cli('backup', 'show', rec.id);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/last verified:\s+never/);
    const v = await h.cli('backup', 'verify', rec.id, '--json');
    expect(v.code, v.stderr).toBe(0);
    const report = JSON.parse(v.stdout) as { ok: boolean; checksum: string; databases_checked: string[]; checksum_verified: boolean };
    expect(report).toMatchObject({ ok: true, checksum: rec.checksum, checksum_verified: true });
    expect(report.databases_checked.sort()).toEqual(['audit.db', 'data/hoziron.db', 'keys.db']);
    const shown = await h.cli('backup', 'show', rec.id, '--json');
    const doc = JSON.parse(shown.stdout) as { last_verified_at: string | null; manifest: { file_count: number } };
    expect(doc.last_verified_at).toMatch(/^\d{4}-/);
    expect(doc.manifest.file_count).toBe(rec.file_count);
    expect((await h.cli('backup', 'show', rec.id)).stdout).toMatch(/last verified:\s+\d{4}-\d\d-\d\d/);
    // Verify by path works too, and leaves no staging directory behind.
    expect((await h.cli('backup', 'verify', rec.path)).code).toBe(0);
    expect(readdirSync(h.storage).filter((n) => n.startsWith('.hoziron-tmp-'))).toEqual([]);
  });

  it('fails, naming the problem, when any one byte of the archive is flipped', async () => {
    h = makeHome();
    const rec = await createJson(h);
    const pristine = readFileSync(rec.path);
    const size = statSync(rec.path).size;
    const spare = join(h.dir, 'pristine.tar.gz');
    copyFileSync(rec.path, spare);
    for (const at of [0, 5, 40, Math.floor(size / 2), size - 9, size - 1]) {
      const bad = Buffer.from(pristine);
      bad[at] = bad[at]! ^ 0x01;
      writeFileSync(rec.path, bad);
      const r = await h.cli('backup', 'verify', rec.id);
      expect(r.code, `flip at ${at}`).toBe(1);
      expect(r.stderr, `flip at ${at}`).toMatch(/^error: .+/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const j = await h.cli('backup', 'verify', rec.id, '--json');
      expect(j.code).toBe(1);
      expect(JSON.parse(j.stdout)).toMatchObject({ ok: false });
    }
    writeFileSync(rec.path, pristine);
    expect((await h.cli('backup', 'verify', rec.id)).code).toBe(0);
    expect(readdirSync(h.storage).filter((n) => n.startsWith('.hoziron-tmp-'))).toEqual([]);
  });

  it('an unknown id is a clear error', async () => {
    h = makeHome();
    for (const cmd of ['verify', 'show']) {
      const r = await h.cli('backup', cmd, 'deadbeef-0000');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: no backup with id "deadbeef-0000"/m);
      expect(r.stderr).toMatch(/^hint: run `hoziron backup list`/m);
    }
  });
});
