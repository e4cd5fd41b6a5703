/**
 * Peak memory of verify and of a restore's dry run on archives built to cost memory: one of
 * 200,000 entries that verifies, and hostile manifests just under the 48 MiB cap (the most
 * name bytes allowed, in names of 4,096 bytes holding a character outside Latin-1; the most
 * entries allowed) or past the entry cap. The peak is the child's own: `ru_maxrss` of its
 * children as Python's `resource` reports it after running the real `bin/hoziron` (through
 * its shebang, as an operator runs it). The bounds have headroom over the 128 MB bar for a
 * loaded machine, yet sit well below what the same commands cost when every entry was a
 * string in a Map (159–225 MB), so that behaviour returning fails here.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { END, entry } from '../archive/support/raw-tar.js';
import { createJson, makeHome, sh, type TestHome } from './helpers.js';

const MB = 1024 * 1024;
/**
 * Bounds on the peak RSS (see the module header): verify over the 128 MB bar by a margin for
 * noise; a restore's dry run also runs the staging worker (a V8 isolate of its own), and
 * measures up to ~140 MB on the hostile manifests on a loaded machine. Both are well under
 * the old costs (159–383 MB).
 */
const VERIFY_BOUND = 135 * MB;
const RESTORE_BOUND = 155 * MB;

/** Run `bin/hoziron` and report its exit code, output and peak RSS in bytes. */
function measured(args: string[]): { code: number; stdout: string; stderr: string; peak: number } {
  const script = [
    'import json, resource, subprocess, sys',
    'r = subprocess.run(sys.argv[1:], capture_output=True)',
    'print(json.dumps({"code": r.returncode, "stdout": r.stdout.decode("utf-8", "replace"), "stderr": r.stderr.decode("utf-8", "replace"),',
    '  "peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))',
  ].join('\n');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HOZIRON_')) delete env[k];
  const out = execFileSync('python3', ['-c', script, BIN, ...args], { env, maxBuffer: 256 * MB, encoding: 'utf8' });
  return JSON.parse(out) as { code: number; stdout: string; stderr: string; peak: number };
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function manifestHead(scope: 'agents' | 'full'): Record<string, unknown> {
  return {
    format: 1,
    id: randomUUID(),
    created_at: '2026-06-05T02:00:00.000Z',
    scope,
    hoziron_version: '0.1.0',
    host: 'test',
    audit_head: null,
  };
}

/** A manifest document of `head`, with `files` and `dirs` given as their JSON lines. */
function manifestText(head: Record<string, unknown>, files: string[], dirs: string[]): Buffer {
  const open = JSON.stringify(head).slice(0, -1);
  return Buffer.from(`${open},"files":[${files.join(',')}],"dirs":[${dirs.join(',')}]}`);
}

/** A tar.gz holding only MANIFEST.json (every listed entry is missing: refused after the manifest is read). */
function manifestOnly(path: string, manifest: Buffer): void {
  const tar = Buffer.concat([entry({ name: 'MANIFEST.json', mode: 0o600 }, manifest), END]);
  execFileSync('tee', [path], { input: gzipSync(tar, { level: 1 }), stdio: ['pipe', 'ignore', 'inherit'] });
}

let h: TestHome;
let memoryDb: Buffer;
beforeAll(async () => {
  h = makeHome();
  // A real memory database, as an agents archive holds it.
  const rec = await createJson(h, '--agents-only');
  const out = join(h.dir, 'unpacked');
  sh('mkdir', ['-p', out]);
  expect(sh('tar', ['-xzf', rec.path, '-C', out, 'data/hoziron.db']).code).toBe(0);
  memoryDb = readFileSync(join(out, 'data', 'hoziron.db'));
});
afterAll(() => h.cleanup());

/** The home's work area holds nothing once a command is done: nothing changed. */
function expectNoWorkLeft(): void {
  const restore = join(h.home, '.restore');
  expect(existsSync(restore) ? readdirSync(restore) : []).toEqual([]);
}

describe('memory of verify and restore on big and hostile archives', () => {
  // (A restore's dry run of it stages 200,000 files, minutes on a loaded disk: measured by hand, not here.)
  it('verifies an archive of 200,000 entries within the bound', { timeout: 600_000 }, async () => {
    const dirs = 200;
    const perDir = 1000;
    const content = 'x\n';
    const fileLine = (p: string) => JSON.stringify({ path: p, size: content.length, mode: 0o644, sha256: sha256(content) });
    const names: string[] = [];
    for (let d = 0; d < dirs; d++) for (let f = 0; f < perDir; f++) names.push(`data/memory/d${d}/note-${f}.md`);
    const dirNames = Array.from({ length: dirs }, (_, d) => `data/memory/d${d}`);
    const manifest = manifestText(
      manifestHead('agents'),
      [JSON.stringify({ path: 'data/hoziron.db', size: memoryDb.length, mode: 0o600, sha256: sha256(memoryDb) }), ...names.map(fileLine)],
      dirNames.map((p) => JSON.stringify({ path: p, mode: 0o755 })),
    );
    const archive = join(h.dir, 'big.tar.gz');
    function* blocks(): Generator<Buffer> {
      yield entry({ name: 'MANIFEST.json', mode: 0o600 }, manifest);
      yield entry({ name: 'data/hoziron.db', mode: 0o600 }, memoryDb);
      for (const d of dirNames) yield entry({ name: `${d}/`, type: '5', mode: 0o755 });
      for (const n of names) yield entry({ name: n }, content);
      yield END;
    }
    await pipeline(Readable.from(blocks()), createGzip({ level: 1 }), createWriteStream(archive));
    const checksum = `sha256:${sha256(readFileSync(archive))}`;

    const verify = measured(['--home', h.home, 'backup', 'verify', archive, '--checksum', checksum, '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, files: 200_001, dirs: dirs, checksum_verified: true });
    expect(verify.peak, `${Math.round(verify.peak / MB)} MB`).toBeLessThan(VERIFY_BOUND);
    expectNoWorkLeft();
  });

  it('refuses hostile manifests under the 48 MiB cap in one line, within the bound, changing nothing', { timeout: 600_000 }, () => {
    const sha = sha256('x');
    const required = ['config.toml', 'keys.db', 'audit.db', 'data/hoziron.db'].map((p) =>
      JSON.stringify({ path: p, size: 1, mode: 0o600, sha256: sha }),
    );
    const line = (p: string) => JSON.stringify({ path: p, size: 1, mode: 0o644, sha256: sha });
    // The most name bytes allowed (24 MiB), in 4,096-byte names that are not Latin-1 (two-byte strings, were they strings).
    const wide = Array.from({ length: 6100 }, (_, i) => line(`data/memory/${i}-${'x'.repeat(4096 - 20)}\u4e00`.slice(0, 4094)));
    // The most entries allowed: 299,990 files with short names (47 MiB of manifest).
    const many = Array.from({ length: 299_990 }, (_, i) => line(`data/memory/${i.toString(36)}-${'y'.repeat(36)}`));
    // One past the entry cap.
    const over = Array.from({ length: 300_001 }, (_, i) => JSON.stringify({ path: `data/memory/${i.toString(36)}`, mode: 0o755 }));
    const cases: [string, Buffer, RegExp][] = [
      [
        'wide',
        manifestText(manifestHead('full'), [...required, ...wide], []),
        /config\.toml is listed in MANIFEST\.json but missing from the archive/,
      ],
      [
        'many',
        manifestText(manifestHead('full'), [...required, ...many], []),
        /config\.toml is listed in MANIFEST\.json but missing from the archive/,
      ],
      ['over', manifestText(manifestHead('full'), required, over), /MANIFEST\.json lists more than 300000 files and folders/],
    ];
    for (const [name, manifest, refusal] of cases) {
      expect(manifest.length).toBeLessThan(48 * MB);
      const archive = join(h.dir, `${name}.tar.gz`);
      manifestOnly(archive, manifest);
      for (const args of [
        ['backup', 'verify', archive],
        ['backup', 'restore', archive, '--no-verify'],
      ]) {
        const r = measured(['--home', h.home, ...args]);
        expect(r.code, `${name} ${args[1]}`).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines[0]).toMatch(refusal);
        expect(lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
        const bound = args[1] === 'verify' ? VERIFY_BOUND : RESTORE_BOUND;
        expect(r.peak, `${name} ${args[1]}: ${Math.round(r.peak / MB)} MB`).toBeLessThan(bound);
        expectNoWorkLeft();
      }
    }
  });
});
