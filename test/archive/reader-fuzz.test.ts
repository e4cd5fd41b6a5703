/**
 * Mutation fuzz of a real archive (issue 10 item 13): bytes of the tar headers of an archive
 * made by the real CLI are flipped or overwritten, the tar is gzipped again (so the gzip CRC
 * is valid and the damage reaches the tar reader; mostly the header checksum is fixed too,
 * so the damage reaches the fields behind it), and staging it must either refuse with a
 * HozironError or produce exactly what the manifest lists: never a crash, a hang or another
 * kind of error. Bounded in time; the PRNG is seeded (HOZIRON_FUZZ_SEED to replay one run),
 * and every failure names the seed and the iteration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type * as Stage from '../../src/backup/stage.js';
import type * as Errors from '../../src/errors.js';
import { importBuilt, tempDir } from '../support/cli.js';
import { cli, makeHome } from '../restore/support/home.js';

const { stageArchive } = await importBuilt<typeof Stage>('src/backup/stage.ts');
const { isHozironError } = await importBuilt<typeof Errors>('src/errors.ts');

const BUDGET_MS = 15_000;
const STAGE_TIMEOUT_MS = 10_000;
const SEED = Number(process.env.HOZIRON_FUZZ_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let sandbox: { dir: string; cleanup: () => void };
let tar: Buffer;
let headers: number[];
beforeAll(async () => {
  sandbox = tempDir('hoziron-fuzz-');
  const home = join(sandbox.dir, 'home');
  await makeHome(home, 2);
  // Names that take the other header paths: non-UTF-8 (ustar bytes), long (pax path).
  mkdirSync(join(home, 'data/agents/agent-0', 'd'.repeat(90)));
  writeFileSync(join(home, 'data/agents/agent-0', 'd'.repeat(90), 'é'.repeat(20)), 'long\n');
  writeFileSync(Buffer.from(`${home}/data/memory/\xff\xfe.md`, 'latin1'), 'bytes\n');
  const archive = join(sandbox.dir, 'real.tar.gz');
  const r = await cli(home, 'backup', 'create', '--agents-only', '--output', archive);
  expect(r.code, r.stderr).toBe(0);
  tar = gunzipSync(readFileSync(archive));
  headers = headerOffsets(tar);
  expect(headers.length).toBeGreaterThan(10);
});
afterAll(() => sandbox.cleanup());

/** Offsets of every header block (pax headers included), walking sizes in the ustar field. */
function headerOffsets(t: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= t.length;) {
    const block = t.subarray(off, off + 512);
    if (block.every((b) => b === 0)) break;
    out.push(off);
    const size = parseInt(block.toString('latin1', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const INTERESTING = [0x00, 0x20, 0x2f, 0x2e, 0x30, 0x37, 0x38, 0x35, 0x31, 0x32, 0x78, 0x4c, 0x80, 0xff, 0x3d, 0x0a];

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** One to four mutations inside header blocks: a bit flip, a random byte or an interesting one. */
function mutate(rand: () => number): { tar: Buffer; what: string[] } {
  const copy = Buffer.from(tar);
  const what: string[] = [];
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const at = headers[Math.floor(rand() * headers.length)]! + Math.floor(rand() * 512);
    const kind = rand();
    if (kind < 0.4) copy[at] = copy[at]! ^ (1 << Math.floor(rand() * 8));
    else if (kind < 0.7) copy[at] = Math.floor(rand() * 256);
    else copy[at] = INTERESTING[Math.floor(rand() * INTERESTING.length)]!;
    what.push(`${at}=${copy[at].toString(16)}`);
    // Mostly with the checksum made right again, so the damage reaches the fields behind it.
    if (rand() < 0.7) {
      const start = at - (at % 512);
      fixChecksum(copy.subarray(start, start + 512));
      what.push(`sum@${start}`);
    }
  }
  return { tar: copy, what };
}

/** The staged tree as the manifest would describe it: path → sha256 of files, "dir" for directories. */
function stagedTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: Buffer | undefined) => {
    const abs = rel ? Buffer.concat([Buffer.from(`${root}/`), rel]) : Buffer.from(root);
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const childRel = rel ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const childAbs = Buffer.concat([Buffer.from(`${root}/`), childRel]);
      const key = childRel.toString('latin1');
      if (statSync(childAbs).isDirectory()) {
        out.set(key, 'dir');
        walk(childRel);
      } else out.set(key, createHash('sha256').update(readFileSync(childAbs)).digest('hex'));
    }
  };
  walk(undefined);
  return out;
}

describe('a real archive with damaged tar headers', () => {
  it(`is refused with a HozironError or staged exactly as its manifest says (seed ${SEED})`, async () => {
    const rand = prng(SEED);
    const started = Date.now();
    let runs = 0;
    let accepted = 0;
    const codes = new Map<string, number>();
    while (Date.now() - started < BUDGET_MS) {
      const { tar: damaged, what } = mutate(rand);
      const where = `seed ${SEED}, iteration ${runs}, mutations ${what.join(' ')}`;
      const archive = join(sandbox.dir, 'damaged.tar.gz');
      const dest = join(sandbox.dir, 'stage');
      writeFileSync(archive, gzipSync(damaged, { level: 1 }));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), STAGE_TIMEOUT_MS)));
      const outcome = await Promise.race([
        stageArchive(archive, dest, {}).then(
          (r) => ({ ok: r }),
          (err: unknown) => ({ err }),
        ),
        timeout,
      ]);
      clearTimeout(timer);
      expect(outcome, `hang: ${where}`).not.toBe('hang');
      if (outcome === 'hang') break;
      if ('err' in outcome) {
        expect(isHozironError(outcome.err), `${String(outcome.err)}: ${where}`).toBe(true);
        const code = (outcome.err as { code: string }).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      } else {
        accepted++;
        const m = outcome.ok.manifest;
        const expected = new Map<string, string>([
          ...[...m.dirs].map((d): [string, string] => [encodeName(d.path), 'dir']),
          ...[...m.files].map((f): [string, string] => [encodeName(f.path), f.sha256]),
        ]);
        // Parents of listed paths are made even when not listed (an agents archive has no "data").
        for (const key of [...expected.keys()])
          for (let cut = key.indexOf('/'); cut > 0; cut = key.indexOf('/', cut + 1)) expected.set(key.slice(0, cut), 'dir');
        expect(stagedTree(dest), where).toEqual(expected);
        rmSync(dest, { recursive: true, force: true });
      }
      runs++;
    }
    expect(runs).toBeGreaterThan(10);
    // Only refusals of the archive itself (a damaged database is 'integrity').
    for (const code of codes.keys()) expect(['archive_invalid', 'integrity', 'unsupported_version'], `seed ${SEED}`).toContain(code);
    console.log(`fuzz seed ${SEED}: ${runs} archives, ${accepted} accepted, refusals ${JSON.stringify(Object.fromEntries(codes))}`);
  }, 60_000);
});

/** A manifest path as the latin1 key `stagedTree` uses (raw bytes, one char each). */
function encodeName(path: string): string {
  let out = '';
  for (const ch of path) {
    const c = ch.charCodeAt(0);
    out += ch.length === 1 && c >= 0xdc80 && c <= 0xdcff ? String.fromCharCode(c - 0xdc00) : Buffer.from(ch).toString('latin1');
  }
  return out;
}
