/**
 * ArchiveWriter end to end with names that need pax headers: what it commits must be read
 * back by our strict reader and by GNU tar and Python's tarfile, names and bytes intact.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestDocument as Manifest, ManifestFile } from '../../src/archive/manifest.js';
import { readArchive } from '../../src/archive/reader.js';
import { ArchiveWriter, estimateManifestMember } from '../../src/archive/writer.js';
import { generateIdentity, parseRecipient, readIdentityFile, type Recipient } from '../../src/crypto/keys.js';

const work = mkdtempSync(join(tmpdir(), 'hoziron-writer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const long = 'd'.repeat(120);
const DIRS = ['data', 'data/agents', 'data/agents/日本語', `data/agents/${long}`, 'data/memory'];
const FILES: { path: string; body: Buffer }[] = [
  { path: 'data/agents/日本語/メモ.md', body: Buffer.from('cjk\n') },
  { path: `data/agents/${long}/${'n'.repeat(100)}.toml`, body: Buffer.from('long name\n') },
  { path: 'data/memory/caf\u00e9.md', body: Buffer.from('nfc\n') },
  { path: 'data/memory/cafe\u0301-nfd.md', body: Buffer.from('nfd\n') },
  { path: 'data/memory/🙂.md', body: Buffer.alloc(200_000, 'e') }, // streamed, not buffered
  { path: 'data/memory/empty', body: Buffer.alloc(0) },
];
const MTIME = new Date('2024-05-06T07:08:09Z');

async function writeArchive(opts: { reserve?: number; recipients?: Recipient[] } = {}): Promise<string> {
  const target = join(work, `${randomUUID()}.tar.gz${opts.recipients ? '.age' : ''}`);
  const writer = await ArchiveWriter.open(target, opts.recipients, { reserve: opts.reserve });
  for (const path of DIRS) await writer.addDirectory(path, { mode: 0o755, mtime: MTIME });
  const files: ManifestFile[] = [];
  for (const { path, body } of FILES) {
    const meta = { mode: 0o640, mtime: MTIME };
    files.push(
      body.length > 100_000
        ? await writer.addStream(path, body.length, meta, Readable.from([body]))
        : await writer.addBuffer(path, body, meta),
    );
  }
  const manifest: Manifest = {
    format: 1,
    id: randomUUID(),
    created_at: MTIME.toISOString(),
    scope: 'agents',
    hoziron_version: '0.1.0',
    host: 'test',
    files,
    dirs: DIRS.map((path) => ({ path, mode: 0o755 })),
    audit_head: null,
  };
  await writer.finish(manifest);
  await writer.commit();
  return target;
}

async function readBack(archive: string, identities?: Awaited<ReturnType<typeof readIdentityFile>>['identities']) {
  const got = new Map<string, Buffer[]>();
  let open = '';
  await readArchive(
    archive,
    {
      directory: () => undefined,
      openFile: (f) => {
        open = f.path;
        got.set(f.path, []);
      },
      data: (chunk) => void got.get(open)!.push(Buffer.from(chunk)),
      closeFile: () => undefined,
    },
    undefined,
    undefined,
    identities,
  );
  for (const { path, body } of FILES) expect(Buffer.concat(got.get(path)!).equals(body), path).toBe(true);
}

describe('estimateManifestMember', () => {
  it('reserves a little more than the manifest member takes, from the text given in pieces', async () => {
    const files = Array.from({ length: 5000 }, (_, i) => ({
      path: `data/memory/agent-${i % 50}/note-${i}.md`,
      size: 1000 + i,
      mode: 0o644,
      sha256: randomBytes(32).toString('hex'),
    }));
    const manifest: Manifest = {
      format: 1,
      id: randomUUID(),
      created_at: MTIME.toISOString(),
      scope: 'agents',
      hoziron_version: '0.1.0',
      host: 'test',
      files,
      dirs: [],
      audit_head: null,
    };
    const text = JSON.stringify(manifest);
    const pieces = Array.from({ length: Math.ceil(text.length / 4096) }, (_, i) => text.slice(i * 4096, (i + 1) * 4096));
    const reserve = await estimateManifestMember(pieces);
    const actual = gzipSync(Buffer.concat([Buffer.alloc(512), Buffer.from(text)]), { level: 6 }).length;
    expect(reserve).toBeGreaterThan(actual);
    expect(reserve).toBeLessThan(actual * 1.03 + 1024);
  });
});

describe('ArchiveWriter in one pass', () => {
  it('pads the manifest member to its reserved region with a gzip comment that gzip and tar skip', async () => {
    const archive = await writeArchive({ reserve: 200_000 });
    const bytes = readFileSync(archive);
    expect(bytes[3]).toBe(0x10); // FCOMMENT
    const gz = spawnSync('gzip', ['-t', archive], { encoding: 'utf8' });
    expect(gz.stderr).toBe('');
    expect(gz.status).toBe(0);
    expect(spawnSync('tar', ['-tzf', archive], { encoding: 'utf8' }).stdout.split('\n')[0]).toBe('MANIFEST.json');
    await readBack(archive);
  });

  it('writes the manifest first in a second file when it outgrows its reserved region, plain or encrypted', async () => {
    const before = new Set(readdirSync(work));
    await readBack(await writeArchive({ reserve: 100 }));
    const id = generateIdentity();
    const keyFile = join(work, `${randomUUID()}.key`);
    writeFileSync(keyFile, id.fileText, { mode: 0o600 });
    const encrypted = await writeArchive({ reserve: 100, recipients: [parseRecipient(id.recipient)!] });
    await readBack(encrypted, (await readIdentityFile(keyFile)).identities);
    // Debian's age decrypts it too (the suite's encrypted tests require the tool).
    const age = spawnSync('sh', ['-c', 'age -d -i "$1" "$2" | gzip -t', 'sh', keyFile, encrypted], { encoding: 'utf8' });
    expect(age.stderr).toBe('');
    expect(age.status).toBe(0);
    // No temporary file is left behind by either.
    expect(readdirSync(work).filter((n) => !before.has(n) && n.startsWith('.'))).toEqual([]);
  });

  it('re-seals an encrypted body behind a manifest larger than its 64 KiB region', async () => {
    const id = generateIdentity();
    const keyFile = join(work, `${randomUUID()}.key`);
    writeFileSync(keyFile, id.fileText, { mode: 0o600 });
    const target = join(work, `${randomUUID()}.tar.gz.age`);
    const writer = await ArchiveWriter.open(target, [parseRecipient(id.recipient)!], { reserve: 1 });
    const meta = { mode: 0o600, mtime: MTIME };
    for (const d of ['data', 'data/memory']) await writer.addDirectory(d, meta);
    const files: ManifestFile[] = [];
    // ~2,500 lines of random digests compress to well over 64 KiB.
    for (let i = 0; i < 2500; i++) files.push(await writer.addBuffer(`data/memory/f${i}`, Buffer.from(`file ${i}\n`), meta));
    const manifest: Manifest = {
      format: 1,
      id: randomUUID(),
      created_at: MTIME.toISOString(),
      scope: 'agents',
      hoziron_version: '0.1.0',
      host: 'test',
      files,
      dirs: ['data', 'data/memory'].map((path) => ({ path, mode: 0o600 })),
      audit_head: null,
    };
    await writer.finish(manifest);
    await writer.commit();
    let count = 0;
    await readArchive(
      target,
      { directory: () => undefined, openFile: () => count++, data: () => undefined, closeFile: () => undefined },
      undefined,
      undefined,
      (await readIdentityFile(keyFile)).identities,
    );
    expect(count).toBe(2500);
  });
});

describe('ArchiveWriter with long and non-ASCII names', () => {
  it('is read back by our strict reader, every file byte for byte', async () => {
    const archive = await writeArchive();
    const got = new Map<string, Buffer[]>();
    const dirs: string[] = [];
    let open = '';
    await readArchive(archive, {
      directory: (d) => dirs.push(d.path),
      openFile: (f) => {
        open = f.path;
        got.set(f.path, []);
      },
      data: (chunk) => void got.get(open)!.push(Buffer.from(chunk)),
      closeFile: () => undefined,
    });
    expect(dirs).toEqual(DIRS);
    expect([...got.keys()]).toEqual(FILES.map((f) => f.path));
    for (const { path, body } of FILES) expect(Buffer.concat(got.get(path)!).equals(body), path).toBe(true);
  });

  it('is extracted by GNU tar and listed by Python tarfile with the same names, silently', async () => {
    const archive = await writeArchive();
    const out = mkdtempSync(join(work, 'x-'));
    const env = { ...process.env, LC_ALL: 'C.UTF-8' };
    const tar = spawnSync('tar', ['-xzf', archive, '-C', out], { env, encoding: 'utf8' });
    expect(tar.stderr).toBe('');
    expect(tar.status).toBe(0);
    for (const { path, body } of FILES) {
      expect(readFileSync(join(out, path)).equals(body), path).toBe(true);
      expect(statSync(join(out, path)).mode & 0o777).toBe(0o640);
      expect(statSync(join(out, path)).mtimeMs).toBe(MTIME.getTime());
    }
    const py = spawnSync(
      'python3',
      ['-W', 'error', '-c', 'import sys,tarfile,json; print(json.dumps(tarfile.open(sys.argv[1]).getnames()))', archive],
      {
        env,
        encoding: 'utf8',
      },
    );
    expect(py.stderr).toBe('');
    expect(JSON.parse(py.stdout)).toEqual(['MANIFEST.json', ...DIRS, ...FILES.map((f) => f.path)]);
  });
});
