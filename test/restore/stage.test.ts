import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type * as Stage from '../../src/backup/stage.js';
import type * as Writer from '../../src/backup/stage-writer.js';
import { readManifest } from '../../src/archive/reader.js';
import { AuditLog } from '../../src/stores/audit.js';
import { importBuilt, tempDir } from '../support/cli.js';
import { baseDirs, baseFiles, entriesFor, manifestFor, sha256, tarBytes, writeArchive, type RawEntry } from './support/archives.js';

// The compiled module: extraction writes through a worker thread, which runs compiled code.
const { stageArchive } = await importBuilt<typeof Stage>('src/backup/stage.ts');
const { StageWriter } = await importBuilt<typeof Writer>('src/backup/stage-writer.ts');

let sandbox: { dir: string; cleanup: () => void };
let outside: string;
beforeEach(() => {
  sandbox = tempDir('hoziron-stage-');
  outside = join(sandbox.dir, 'outside');
  mkdirSync(outside);
});
afterEach(() => sandbox.cleanup());

const dest = () => join(sandbox.dir, 'stage');
const archivePath = () => join(sandbox.dir, 'a.tar.gz');

async function build(entries: RawEntry[], manifest: unknown, extraAfterGzip?: Buffer): Promise<string> {
  return writeArchive(
    archivePath(),
    await tarBytes(entries, typeof manifest === 'string' ? manifest : (manifest as never)),
    extraAfterGzip,
  );
}

/** The hex digest in the archive's sha256sum sidecar (as restore reads it, via sidecars.ts). */
function sidecarOf(path: string): string {
  return readFileSync(`${path}.sha256`, 'utf8').slice(0, 64);
}

/** Stage with and without the checksum; both must refuse with `pattern` and leave no trace. */
async function expectRefused(path: string, pattern: RegExp): Promise<void> {
  const before = readdirSync(sandbox.dir).sort();
  for (const expectedSha256 of [sidecarOf(path), undefined]) {
    await expect(stageArchive(path, dest(), { expectedSha256 })).rejects.toThrow(pattern);
    expect(existsSync(dest())).toBe(false);
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(sandbox.dir).sort()).toEqual(before);
  }
}

describe('stageArchive', () => {
  it('unpacks a valid archive with exact bytes, safe modes and empty directories', async () => {
    const files = [...baseFiles(), { path: 'data/memory/secret.md', content: 'x', mode: 0o4755 }];
    const dirs = [...baseDirs, { path: 'data/memory/empty', mode: 0o750 }];
    const path = await build(entriesFor(files, dirs), manifestFor(files, dirs));
    const { manifest, archiveSha256 } = await stageArchive(path, dest(), { expectedSha256: sidecarOf(path) });
    expect(manifest.files).toHaveLength(4);
    expect(archiveSha256).toBe(sha256(readFileSync(path)));
    for (const f of files) expect(readFileSync(join(dest(), f.path), 'utf8')).toBe(f.content);
    expect(statSync(join(dest(), 'data/memory/secret.md')).mode & 0o7777).toBe(0o644); // set-uid and execute stripped
    expect(statSync(join(dest(), 'data/memory/empty')).isDirectory()).toBe(true);
    expect(statSync(join(dest(), 'data/memory/empty')).mode & 0o777).toBe(0o700);
    expect(statSync(dest()).mode & 0o777).toBe(0o700);
  });

  it('reads a multi-member gzip (MANIFEST.json as its own member)', async () => {
    const files = baseFiles();
    const manifest = manifestFor(files, baseDirs);
    const tar = await tarBytes(entriesFor(files), manifest);
    // Split after the manifest's header + body blocks.
    const cut = 512 + Math.ceil(JSON.stringify(manifest).length / 512) * 512;
    writeFileSync(archivePath(), Buffer.concat([gzipSync(tar.subarray(0, cut)), gzipSync(tar.subarray(cut))]));
    const r = await stageArchive(archivePath(), dest(), {});
    expect(r.manifest.id).toBe(manifest.id);
  });

  it('refuses an entry with an absolute path', async () => {
    const files = baseFiles();
    const path = await build([...entriesFor(files), { name: join(outside, 'pwned'), content: 'x' }], manifestFor(files, baseDirs));
    await expectRefused(path, /is an absolute path/);
  });

  it("refuses an entry that escapes with '..'", async () => {
    const files = baseFiles();
    const path = await build(
      [...entriesFor(files), { name: 'data/memory/../../../outside/pwned', content: 'x' }],
      manifestFor(files, baseDirs),
    );
    await expectRefused(path, /'\.\.'/);
  });

  it('refuses a symlink entry pointing outside the staged tree', async () => {
    const files = baseFiles();
    const path = await build(
      [...entriesFor(files), { name: 'data/memory/link', type: 'symlink', linkname: outside }],
      manifestFor(files, baseDirs),
    );
    await expectRefused(path, /"data\/memory\/link" is a symbolic link/);
  });

  it('refuses an entry that escapes through a symlink', async () => {
    const files = baseFiles();
    const evil = { path: 'data/memory/link/pwned', content: 'x' };
    const m = manifestFor([...files, evil], baseDirs);
    const path = await build(
      [...entriesFor(files), { name: 'data/memory/link', type: 'symlink', linkname: outside }, { name: evil.path, content: evil.content }],
      m,
    );
    await expectRefused(path, /symbolic link/);
  });

  it('refuses a hard link entry', async () => {
    const files = baseFiles();
    const path = await build(
      [...entriesFor(files), { name: 'data/memory/hard', type: 'link', linkname: '/etc/passwd' }],
      manifestFor(files, baseDirs),
    );
    await expectRefused(path, /"data\/memory\/hard" is a hard link/);
  });

  it('refuses character device, block device and FIFO entries', async () => {
    const files = baseFiles();
    for (const [type, what] of [
      ['character-device', /character device/],
      ['block-device', /block device/],
      ['fifo', /FIFO/],
    ] as const) {
      const path = await build([...entriesFor(files), { name: 'data/memory/dev', type }], manifestFor(files, baseDirs));
      await expectRefused(path, what);
    }
  });

  it('refuses an entry not listed in the manifest', async () => {
    const files = baseFiles();
    const path = await build([...entriesFor(files), { name: 'data/memory/extra.md', content: 'x' }], manifestFor(files, baseDirs));
    await expectRefused(path, /"data\/memory\/extra.md" is not listed/);
  });

  it('refuses a duplicate entry', async () => {
    const files = baseFiles();
    const path = await build([...entriesFor(files), { name: files[0]!.path, content: files[0]!.content }], manifestFor(files, baseDirs));
    await expectRefused(path, /appears twice/);
  });

  it('refuses an entry whose size differs from the manifest', async () => {
    const files = baseFiles();
    const m = manifestFor(files, baseDirs);
    m.files[0]!.size += 1;
    await expectRefused(await build(entriesFor(files), m), /bytes but MANIFEST.json says/);
  });

  it('refuses an entry whose SHA-256 differs from the manifest', async () => {
    const files = baseFiles();
    const m = manifestFor(files, baseDirs);
    const tampered = files.map((f, i) => (i === 1 ? { ...f, content: f.content.replace('idle', 'evil') } : f));
    await expectRefused(await build(entriesFor(tampered), m), /does not match its SHA-256/);
  });

  it('refuses a decompression bomb without reading past the declared size', async () => {
    const files = [{ path: 'data/memory/small.md', content: 'tiny' }];
    const m = manifestFor(files, baseDirs);
    const bomb = Buffer.alloc(64 * 1024 * 1024); // 64 MiB of zeros, ~64 KiB compressed
    const path = await build([...entriesFor([], baseDirs), { name: 'data/memory/small.md', content: bomb }], m);
    const started = Date.now();
    await expectRefused(path, /bytes but MANIFEST.json says 4/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a zero-byte bomb after the end-of-archive marker', async () => {
    const files = baseFiles();
    const tar = await tarBytes(entriesFor(files), manifestFor(files, baseDirs));
    writeArchive(archivePath(), Buffer.concat([tar, Buffer.alloc(32 * 1024 * 1024)]));
    await expectRefused(archivePath(), /too much padding/);
  });

  it('stages names that differ only in case or Unicode normalisation (Linux keeps them apart): issue 10 item 1', async () => {
    const files = [
      ...baseFiles(),
      { path: 'data/memory/caf\u00e9.md', content: 'nfc' },
      { path: 'data/memory/cafe\u0301.md', content: 'nfd' },
      { path: 'data/memory/Notes.md', content: 'upper' },
    ];
    const path = await build(entriesFor(files), manifestFor(files, baseDirs));
    const { manifest } = await stageArchive(path, dest(), { expectedSha256: sidecarOf(path) });
    expect(manifest.files).toHaveLength(6);
    for (const f of files) expect(readFileSync(join(dest(), f.path), 'utf8')).toBe(f.content);
  });

  it('refuses an entry whose pax size and ustar size disagree', async () => {
    const files = baseFiles();
    const m = manifestFor(files, baseDirs);
    const entries = entriesFor(files);
    entries[entries.length - 1]!.pax = { size: '3' };
    await expectRefused(await build(entries, m), /pax size \(3\) and the ustar size \(8\) disagree/);
  });

  it('refuses data after the end-of-archive marker', async () => {
    const files = baseFiles();
    const tar = await tarBytes(entriesFor(files), manifestFor(files, baseDirs));
    writeArchive(archivePath(), Buffer.concat([tar, Buffer.from('hidden payload')]));
    await expectRefused(archivePath(), /unexpected data after the end-of-archive marker/);
  });

  it('refuses bytes after the gzip stream', async () => {
    const files = baseFiles();
    await expectRefused(await build(entriesFor(files), manifestFor(files, baseDirs), Buffer.alloc(64)), /after the end of the gzip stream/);
  });

  it('refuses a truncated archive', async () => {
    const files = [
      ...baseFiles(),
      { path: 'data/memory/big.bin', content: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)).toString('latin1') },
    ];
    const path = await build(entriesFor(files), manifestFor(files, baseDirs));
    const gz = readFileSync(path);
    writeArchive(path, Buffer.alloc(0)); // rewrite below
    writeFileSync(path, gz.subarray(0, Math.floor(gz.length / 2)));
    writeFileSync(`${path}.sha256`, `${sha256(gz.subarray(0, Math.floor(gz.length / 2)))}  a.tar.gz\n`);
    await expectRefused(path, /truncated/);
  });

  it('refuses a bit-flipped archive', async () => {
    const files = [...baseFiles(), { path: 'data/memory/big.bin', content: 'z'.repeat(100_000) }];
    const path = await build(entriesFor(files), manifestFor(files, baseDirs));
    const gz = readFileSync(path);
    for (const at of [Math.floor(gz.length / 2), gz.length - 6]) {
      const flipped = Buffer.from(gz);
      flipped[at]! ^= 0x10;
      writeFileSync(path, flipped);
      // A flip inside the deflated manifest garbles it before gzip's CRC at the end can be
      // checked: then the manifest is what is refused, still in one line, nothing staged.
      await expectRefused(path, /corrupt|checksum mismatch|SHA-256|truncated|MANIFEST\.json/);
    }
  });

  it('refuses an archive whose checksum differs from its sidecar, unless told not to verify', async () => {
    const files = baseFiles();
    const path = await build(entriesFor(files), manifestFor(files, baseDirs));
    writeFileSync(`${path}.sha256`, `${'0'.repeat(64)}  a.tar.gz\n`);
    await expect(stageArchive(path, dest(), { expectedSha256: sidecarOf(path) })).rejects.toThrow(/checksum mismatch/);
    expect(existsSync(dest())).toBe(false);
    await stageArchive(path, dest(), {});
    expect(readFileSync(join(dest(), files[0]!.path), 'utf8')).toBe(files[0]!.content);
  });

  it('refuses an archive whose first entry is not MANIFEST.json', async () => {
    const files = baseFiles();
    await expectRefused(await build(entriesFor(files), undefined), /first entry must be MANIFEST.json/);
  });

  it('refuses a manifest that lists paths outside its scope', async () => {
    const files = [...baseFiles(), { path: 'run/hoziron.pid', content: '1' }];
    await expectRefused(
      await build(entriesFor(files), manifestFor(files, baseDirs)),
      /"run\/hoziron.pid", which is outside the agents backup scope/,
    );
    const full = [{ path: 'config.toml', content: '' }];
    await expectRefused(await build(entriesFor(full, []), manifestFor(full, [], 'agents')), /outside the agents backup scope/);
  });

  it('refuses a newer archive format with a hint', async () => {
    const files = baseFiles();
    const m = { ...manifestFor(files, baseDirs), format: 2 };
    const path = await build(entriesFor(files), m);
    await expect(stageArchive(path, dest(), { expectedSha256: sidecarOf(path) })).rejects.toMatchObject({
      code: 'unsupported_version',
      hint: /upgrade/,
    });
    await expect(readManifest(path)).rejects.toThrow(/format 2 is newer/);
  });

  it('refuses a database that fails integrity_check and an audit chain that misses its head', async () => {
    const good = join(sandbox.dir, 'good.db');
    const db = new Database(good);
    db.exec('CREATE TABLE t (x TEXT); CREATE INDEX tx ON t (x);');
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) db.prepare('INSERT INTO t VALUES (?)').run(`row ${i} ${'y'.repeat(40)}`);
    })();
    db.close();
    const bytes = readFileSync(good);
    const broken = Buffer.from(bytes);
    // Damage the middle of the file (b-tree pages), keep the header page intact.
    broken.fill(0xab, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 2000);
    const files = [{ path: 'data/hoziron.db', content: broken }];
    await expectRefused(
      await build(entriesFor(files, [{ path: 'data' }]), manifestFor(files, [{ path: 'data' }])),
      /data\/hoziron.db fails PRAGMA integrity_check|data\/hoziron.db/,
    );

    const auditPath = join(sandbox.dir, 'audit.db');
    await AuditLog.create(auditPath);
    const audit = readFileSync(auditPath);
    const full = [{ path: 'audit.db', content: audit }];
    const m = manifestFor(full, [], 'full');
    m.audit_head = { seq: 5, hash: 'f'.repeat(64) };
    await expectRefused(await build(entriesFor(full, []), m), /audit chain does not verify/);
    m.audit_head = { seq: 1, hash: AuditLog.verifyFile(auditPath).head!.hash };
    const sound = await build(entriesFor(full, []), m);
    await stageArchive(sound, dest(), { expectedSha256: sidecarOf(sound) });
  });

  it('readManifest reads only the first entry', async () => {
    const files = baseFiles();
    const m = manifestFor(files, baseDirs);
    const tar = await tarBytes(entriesFor(files), m);
    // Garbage after the manifest: readManifest must not get that far.
    const cut = 512 + Math.ceil(JSON.stringify(m).length / 512) * 512;
    writeFileSync(archivePath(), Buffer.concat([gzipSync(tar.subarray(0, cut)), gzipSync(Buffer.alloc(4096, 'not a tar header'))]));
    expect((await readManifest(archivePath())).id).toBe(m.id);
  });
});

describe('stageArchive with archives written by python tarfile', () => {
  const py = (script: string) => {
    const r = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  };

  it('stages a pax archive with a long non-ASCII name written by another tool', async () => {
    const long = `data/memory/${'d'.repeat(120)}/caf\u00e9-${'n'.repeat(90)}.md`;
    const files = [{ path: long, content: 'long' }];
    const dirs = [{ path: 'data' }, { path: 'data/memory' }, { path: `data/memory/${'d'.repeat(120)}` }];
    const m = manifestFor(files, dirs);
    const mpath = join(sandbox.dir, 'm.json');
    writeFileSync(mpath, JSON.stringify(m));
    py(`
import tarfile, io
t = tarfile.open(${JSON.stringify(archivePath())}, 'w:gz', format=tarfile.PAX_FORMAT)
t.add(${JSON.stringify(mpath)}, arcname='MANIFEST.json')
for d in ${JSON.stringify(dirs.map((d) => d.path))}:
    i = tarfile.TarInfo(d); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
i = tarfile.TarInfo(${JSON.stringify(long)}); i.size = 4; t.addfile(i, io.BytesIO(b'long'))
t.close()`);
    await stageArchive(archivePath(), dest(), {});
    expect(readFileSync(join(dest(), long), 'utf8')).toBe('long');
  });

  it('refuses a symlink in a GNU-format archive and names it', async () => {
    const mpath = join(sandbox.dir, 'm.json');
    writeFileSync(mpath, JSON.stringify(manifestFor(baseFiles(), baseDirs)));
    py(`
import tarfile
t = tarfile.open(${JSON.stringify(archivePath())}, 'w:gz', format=tarfile.GNU_FORMAT)
t.add(${JSON.stringify(mpath)}, arcname='MANIFEST.json')
i = tarfile.TarInfo('data/agents/${'x'.repeat(120)}'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; t.addfile(i)
t.close()`);
    await expect(stageArchive(archivePath(), dest(), {})).rejects.toThrow(/xxxx" is a symbolic link \(to "\/etc"\)/);
    expect(existsSync(dest())).toBe(false);
  });
});

describe('StageWriter (the extraction worker)', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('writes files across many batches byte for byte, with modes, and reports only the files asked', async () => {
    const root = dest();
    mkdirSync(root, { mode: 0o700 });
    const big = randomBytes(20 * 1024 * 1024 + 123); // more than all batch buffers together
    const reported: string[] = [];
    const w = new StageWriter(root, (rel) => reported.push(rel));
    w.directory('a');
    w.open('a/big.bin');
    for (let off = 0; off < big.length; off += 128 * 1024) await w.data(big.subarray(off, off + 128 * 1024));
    w.close('a/big.bin', 0o4640, true);
    for (let i = 0; i < 3000; i++) {
      w.open(`b/c${i % 7}/f${i}`);
      await w.data(Buffer.from(`file ${i}`));
      w.close(`b/c${i % 7}/f${i}`, 0o644, false);
    }
    await w.finish();
    expect(readFileSync(join(root, 'a/big.bin')).equals(big)).toBe(true);
    expect(statSync(join(root, 'a/big.bin')).mode & 0o7777).toBe(0o640); // set-uid dropped
    expect(readFileSync(join(root, 'b/c3/f2999'), 'utf8')).toBe('file 2999');
    expect(statSync(join(root, 'b/c0/f0')).mode & 0o777).toBe(0o644);
    expect(reported).toEqual(['a/big.bin']);
  });

  it('fails naming the entry when a write is refused, refuses further work and closes its file', async () => {
    const root = dest();
    mkdirSync(root, { mode: 0o700 });
    writeFileSync(join(root, 'taken'), 'already here');
    const before = openFds();
    const w = new StageWriter(root, () => undefined);
    w.open('first');
    await w.data(Buffer.from('first'));
    w.close('first', 0o600, false);
    w.open('taken');
    await w.data(Buffer.from('mine'));
    w.close('taken', 0o600, false);
    await expect(w.finish()).rejects.toThrow(/cannot write taken into the staging directory: EEXIST/);
    expect(() => w.open('later')).toThrow(/cannot write taken/);
    await w.stop();
    expect(readFileSync(join(root, 'first'), 'utf8')).toBe('first');
    expect(readFileSync(join(root, 'taken'), 'utf8')).toBe('already here');
    expect(existsSync(join(root, 'later'))).toBe(false);
    expect(openFds()).toBe(before);
  });
});
