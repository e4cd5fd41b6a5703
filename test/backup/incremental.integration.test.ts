/**
 * Incremental creates (docs/format.md#incremental-creates): a second create copies the gzip
 * members of unchanged segments from the previous archive, and the result is still a
 * standalone tar.gz; a damaged previous archive or a doctored member index never puts a
 * wrong byte into the new archive.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackupRecord } from '../../src/api/types.js';
import { createJson, gnuTarExtract, gnuTarList, makeHome, sh, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

/** A home with a few MiB of data: large files get members of their own, small ones share them. */
function biggerHome(): TestHome {
  const home = makeHome();
  const text = (seed: string) => Buffer.from(`${seed} the agent wrote down what the user asked. `.repeat(70_000));
  writeFileSync(join(home.home, 'data', 'memory', 'long-notes.md'), text('notes'));
  writeFileSync(join(home.home, 'data', 'memory', 'package.bin'), randomBytes(3 * 1024 * 1024));
  for (let i = 0; i < 200; i++) writeFileSync(join(home.home, 'data', 'memory', `m${i}.md`), `memory ${i}\n`.repeat(50 + i));
  return home;
}

interface Summary {
  archive: { size: number; mtime_ms: number };
  members: { body_offset: number; list: [number, number, number][] };
}

const summaryOf = (archive: string) => JSON.parse(readFileSync(`${archive}.json`, 'utf8')) as Summary;

/** Rewrite the summary so that it describes the archive file as it now is (size, mtime). */
function keepSummaryCurrent(archive: string, change: (s: Summary) => void = () => undefined): void {
  const s = summaryOf(archive);
  const st = statSync(archive);
  s.archive = { size: st.size, mtime_ms: st.mtimeMs };
  change(s);
  writeFileSync(`${archive}.json`, JSON.stringify(s));
}

async function checkStandalone(t: TestHome, r: BackupRecord): Promise<void> {
  expect(gnuTarList(r.path)[0]).toBe('MANIFEST.json');
  const sum = sh('sha256sum', ['-c', basename(`${r.path}.sha256`)], dirname(r.path));
  expect(sum.code, sum.stderr).toBe(0);
  // Another gzip reader of its concatenated members: pigz tests every member and its CRC.
  const pigz = sh('pigz', ['-t', r.path]);
  expect(pigz.code, pigz.stderr).toBe(0);
  expect(pigz.stderr).toBe('');
  const v = await t.cli('backup', 'verify', r.id, '--json');
  expect(v.code, v.stderr).toBe(0);
  const out = join(t.dir, `x-${r.id}`);
  sh('mkdir', ['-p', out]);
  gnuTarExtract(r.path, out);
  for (const rel of ['data/memory/long-notes.md', 'data/memory/package.bin', 'data/memory/m7.md', 'data/memory/m8.md']) {
    expect(readFileSync(join(out, rel)).equals(readFileSync(join(t.home, rel))), rel).toBe(true);
  }
}

describe('incremental creates', () => {
  it('copies the members of unchanged files from the previous archive, and the result stands alone', async () => {
    h = biggerHome();
    const first = await createJson(h);
    expect(first.timings?.reused_members ?? 0).toBe(0);
    expect(summaryOf(first.path).members.list.length).toBeGreaterThan(5);
    writeFileSync(join(h.home, 'data', 'memory', 'm7.md'), 'changed since the first backup\n');
    const second = await createJson(h);
    expect(second.timings?.reused_members).toBeGreaterThan(3);
    expect(second.timings?.reused_bytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(second.timings?.reuse_refused).toBe(0);
    await checkStandalone(h, second);
    expect(typeof second.timings?.compress).toBe('number');
    expect(typeof second.timings?.fsync).toBe('number');
  });

  it('never copies a damaged member: a flipped byte in the previous archive is compressed afresh', async () => {
    h = biggerHome();
    const first = await createJson(h);
    const { members } = summaryOf(first.path);
    // Damage the middle of every whole-MiB member (the large files' data).
    const bytes = readFileSync(first.path);
    let offset = members.body_offset;
    let damaged = 0;
    for (const [length, rawLength] of members.list) {
      if (rawLength === 1024 * 1024) {
        bytes[offset + Math.floor(length / 2)]! ^= 0x40;
        damaged++;
      }
      offset += length;
    }
    expect(damaged).toBeGreaterThan(2);
    writeFileSync(first.path, bytes);
    keepSummaryCurrent(first.path);
    const second = await createJson(h);
    expect(second.timings?.reuse_refused).toBeGreaterThanOrEqual(damaged);
    await checkStandalone(h, second);
  });

  it('never copies what a doctored index points at: members swapped, lengths and offsets out of range', async () => {
    h = biggerHome();
    const first = await createJson(h);
    keepSummaryCurrent(first.path, (s) => {
      const list = s.members.list;
      // Swap the content claims (input length, CRC-32) of neighbouring members, keeping the lengths.
      for (let i = 0; i + 1 < list.length; i += 2) {
        const [a, b] = [list[i]!, list[i + 1]!];
        [a[1], a[2], b[1], b[2]] = [b[1], b[2], a[1], a[2]];
      }
    });
    const second = await createJson(h);
    await checkStandalone(h, second);

    keepSummaryCurrent(second.path, (s) => {
      s.members.body_offset = 0; // every member read from the wrong place
    });
    const third = await createJson(h);
    await checkStandalone(h, third);
    expect(third.timings?.reused_members ?? 0).toBe(0);
  });
});
