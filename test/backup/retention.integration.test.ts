import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PruneResult } from '../../src/api/types.js';
import { createJson, listJson, makeHome, setRetention, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

/** Every file of the storage path and the SHA-256 of its bytes. */
function snapshotStorage(t: TestHome): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(t.storage).sort()) {
    const p = join(t.storage, n);
    if (statSync(p).isFile()) out[n] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

async function pruneJson(t: TestHome, ...args: string[]): Promise<PruneResult> {
  const r = await t.cli('backup', 'prune', '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PruneResult;
}

/** A copy of `src` in storage cut to half its size: a transfer that broke off. */
function truncatedCopy(t: TestHome, src: string, name: string): string {
  const dest = join(t.storage, name);
  copyFileSync(src, dest);
  truncateSync(dest, Math.floor(statSync(src).size / 2));
  return dest;
}

describe('retention counts each scope on its own and only archives that verify', () => {
  it('retention = 2 with one full then two agents-only backups still keeps the only full backup', async () => {
    h = makeHome();
    setRetention(h, 2);
    const full = await createJson(h);
    const a1 = await createJson(h, '--agents-only');
    const a2 = await createJson(h, '--agents-only');
    expect((await listJson(h)).map((r) => r.id).sort()).toEqual([full.id, a1.id, a2.id].sort());
    const a3 = await h.cli('backup', 'create', '--agents-only');
    expect(a3.code, a3.stderr).toBe(0);
    // The third agents backup pushes out the oldest agents one, printed; the full one stays.
    expect(a3.stdout).toMatch(
      new RegExp(`^Pruned agents backup ${a1.id} \\(${basename(a1.path)}\\): older than the newest 2 good agents backups`, 'm'),
    );
    const left = (await listJson(h)).map((r) => r.id);
    expect(left).toContain(full.id);
    expect(left).not.toContain(a1.id);
  });

  it('prune --keep 1 with a truncated archive in storage keeps the newest good full backup and leaves the broken one', async () => {
    h = makeHome();
    const recs = [];
    for (let i = 0; i < 4; i++) recs.push(await createJson(h));
    const newest = recs[3]!;
    // The broken copy sorts as newest (same manifest, later file name): it must not count.
    const broken = truncatedCopy(h, newest.path, 'hoziron-backup-99991231_235959.tar.gz');
    const r = await pruneJson(h, '--keep', '1');
    expect(r.kept.map((e) => e.id)).toEqual([newest.id]);
    expect(r.kept[0]!.path).toBe(newest.path);
    expect(r.kept[0]!.reason).toMatch(/newest full backup that verifies/);
    expect(r.deleted.map((e) => e.id).sort()).toEqual(
      recs
        .slice(0, 3)
        .map((x) => x.id)
        .sort(),
    );
    expect(r.broken.map((e) => e.path)).toEqual([broken]);
    expect(r.broken[0]!.reason).toMatch(/fails its checksum/);
    expect(existsSync(newest.path) && existsSync(broken)).toBe(true);
    for (const x of recs.slice(0, 3))
      expect(existsSync(x.path) || existsSync(`${x.path}.sha256`) || existsSync(`${x.path}.json`)).toBe(false);
    // Every deletion is audited with its reason.
    const tail = await h.cli('audit', 'tail', '-n', '50', '--json');
    const prunes = (JSON.parse(tail.stdout) as { action: string; target: string; detail: { reason?: string } }[]).filter(
      (e) => e.action === 'backup.prune',
    );
    expect(prunes.map((e) => e.target).sort()).toEqual(
      recs
        .slice(0, 3)
        .map((x) => x.id)
        .sort(),
    );
    expect(prunes.every((e) => /older than the newest 1 good full/.test(e.detail.reason ?? ''))).toBe(true);
    // The outcome of the check is cached beside the archive, keyed by its size and mtime.
    const summary = JSON.parse(readFileSync(`${broken}.json`, 'utf8')) as { checked?: { ok: boolean; size: number } };
    expect(summary.checked).toMatchObject({ ok: false, size: statSync(broken).size });
  });

  it('never deletes the newest full backup that verifies, even when every newer one is damaged', async () => {
    h = makeHome();
    const good = await createJson(h);
    const agents = await createJson(h, '--agents-only');
    // A second full backup, then damaged in place: same size, one byte changed.
    const damaged = await createJson(h, '--output', join(h.storage, 'hoziron-backup-99991231_000000.tar.gz'));
    const bytes = readFileSync(damaged.path);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    writeFileSync(damaged.path, bytes);
    setRetention(h, 1);
    const r = await pruneJson(h);
    expect(r.kept.map((e) => e.id).sort()).toEqual([good.id, agents.id].sort());
    expect(r.broken.map((e) => e.id)).toEqual([damaged.id]);
    expect(r.deleted).toEqual([]);
    expect(existsSync(good.path) && existsSync(damaged.path)).toBe(true);
  });

  it('prune --dry-run shows exactly what would be deleted and why, and changes nothing', async () => {
    h = makeHome();
    const a = await createJson(h);
    const b = await createJson(h);
    await createJson(h);
    const before = snapshotStorage(h);
    const dry = await h.cli('backup', 'prune', '--keep', '1', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^Dry run: would delete 2 backups:$/m);
    for (const x of [a, b])
      expect(dry.stdout).toMatch(new RegExp(`^  ${x.id}  ${basename(x.path)}  full, .*: older than the newest 1 good full backups$`, 'm'));
    expect(dry.stdout).toMatch(/^Nothing was changed\./m);
    const json = await pruneJson(h, '--keep', '1', '--dry-run');
    expect(json.dry_run).toBe(true);
    expect(json.deleted.map((e) => e.id).sort()).toEqual([a.id, b.id].sort());
    expect(snapshotStorage(h)).toEqual(before);
    const tail = await h.cli('audit', 'tail', '-n', '50');
    expect(tail.stdout).not.toMatch(/backup\.prune/);
    // And the real prune deletes exactly those.
    expect((await pruneJson(h, '--keep', '1')).deleted.map((e) => e.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('prune refuses a bad --keep with one line and changes nothing', async () => {
    h = makeHome();
    await createJson(h);
    await createJson(h);
    const before = snapshotStorage(h);
    for (const bad of ['0', '-1', 'two']) {
      const r = await h.cli('backup', 'prune', '--keep', bad, '--dry-run');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error: .*--keep.*\n(\(run with --help for usage\)\n)?$/);
    }
    expect(snapshotStorage(h)).toEqual(before);
  });
});
