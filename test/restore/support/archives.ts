/**
 * Hand-built archives for the restore tests, made with tar-stream's packer and zlib directly
 * (independent of the project's writer), so a hostile archive is exactly what an attacker
 * would write: any entry type, any name, any manifest.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { pack as tarPack, type Header } from 'tar-stream';
import { MEMORY_SPEC } from '../../../src/stores/memory.js';
import { migrate } from '../../../src/stores/sqlite.js';

export interface RawEntry {
  name: string;
  type?: Header['type'];
  content?: Buffer | string;
  linkname?: string;
  mode?: number;
  pax?: Record<string, string>;
  /** Override the header size (content is still what is written). */
  size?: number;
}

export interface ManifestLike {
  format: number;
  id: string;
  created_at: string;
  scope: 'full' | 'agents';
  hoziron_version: string;
  host: string;
  files: { path: string; size: number; mode: number; sha256: string }[];
  dirs: { path: string; mode: number }[];
  audit_head: { seq: number; hash: string } | null;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A manifest describing `files` (and `dirs`), which a test may then tamper with. */
export function manifestFor(
  files: { path: string; content: Buffer | string; mode?: number }[],
  dirs: { path: string; mode?: number }[] = [],
  scope: 'full' | 'agents' = 'agents',
): ManifestLike {
  return {
    format: 1,
    id: randomUUID(),
    created_at: new Date().toISOString(),
    scope,
    hoziron_version: '0.1.0',
    host: 'test',
    files: files.map((f) => ({ path: f.path, size: Buffer.byteLength(f.content), mode: f.mode ?? 0o644, sha256: sha256(f.content) })),
    dirs: dirs.map((d) => ({ path: d.path, mode: d.mode ?? 0o755 })),
    audit_head: null,
  };
}

/** The tar bytes of `entries` (MANIFEST.json first when `manifest` is given). */
export async function tarBytes(entries: RawEntry[], manifest?: ManifestLike | string): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  const all: RawEntry[] =
    manifest === undefined
      ? entries
      : [{ name: 'MANIFEST.json', content: typeof manifest === 'string' ? manifest : JSON.stringify(manifest), mode: 0o600 }, ...entries];
  for (const e of all) {
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    const header: Partial<Header> & { name: string } = {
      name: e.name,
      type: e.type ?? 'file',
      mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
      mtime: new Date(0),
    };
    if (e.linkname) header.linkname = e.linkname;
    if (e.pax) header.pax = e.pax;
    if (content) header.size = e.size ?? content.length;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content) p.entry(header, content, cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Write `tar` gzipped to `path` with a sha256sum sidecar; returns the path. */
export function writeArchive(path: string, tar: Buffer, extraAfterGzip?: Buffer): string {
  let gz = gzipSync(tar);
  if (extraAfterGzip) gz = Buffer.concat([gz, extraAfterGzip]);
  writeFileSync(path, gz, { mode: 0o600 });
  writeFileSync(`${path}.sha256`, `${sha256(gz)}  ${path.split('/').pop()}\n`);
  return path;
}

/** A tidy, valid agents-scope archive layout used as the base of most cases. */
export function baseFiles(): { path: string; content: string; mode?: number }[] {
  return [
    { path: 'data/agents/a1/agent.toml', content: 'name = "a1"\n' },
    { path: 'data/agents/a1/state.json', content: '{"state":"idle"}\n' },
    { path: 'data/memory/notes.md', content: '# notes\n' },
  ];
}
/** The bytes of an empty memory database at this version's schema (what an agents archive must hold). */
function memoryDbBytes(): Buffer {
  const db = new Database(':memory:');
  try {
    migrate(db, MEMORY_SPEC);
    return db.serialize();
  } finally {
    db.close();
  }
}

/** `baseFiles()` plus the memory database: the smallest agents archive a restore accepts. */
export function agentsFiles(): { path: string; content: string | Buffer; mode?: number }[] {
  return [...baseFiles(), { path: 'data/hoziron.db', content: memoryDbBytes(), mode: 0o600 }];
}

export const baseDirs = [{ path: 'data' }, { path: 'data/agents' }, { path: 'data/agents/a1' }, { path: 'data/memory' }];

export function entriesFor(
  files: { path: string; content: string | Buffer; mode?: number }[],
  dirs: { path: string; mode?: number }[] = baseDirs,
): RawEntry[] {
  return [
    ...dirs.map((d): RawEntry => ({ name: d.path, type: 'directory', mode: d.mode ?? 0o755 })),
    ...files.map((f): RawEntry => ({ name: f.path, content: f.content, mode: f.mode ?? 0o644 })),
  ];
}

/**
 * Rewrite a real archive: extract it with the system's tar, let `edit` change the files in
 * the extracted tree and the manifest (modes, fields), then pack it again by hand with a
 * manifest whose sizes and hashes match the edited files (files deleted by `edit` are left
 * out). Returns the new archive's path (with a sidecar).
 */
export async function repackArchive(
  source: string,
  dest: string,
  edit: (dir: string, manifest: ManifestLike) => void | Promise<void>,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hoziron-repack-'));
  try {
    const tar = spawnSync('tar', ['-xzf', source, '-C', dir]);
    if (tar.status !== 0) throw new Error(`tar -xzf ${source}: ${String(tar.stderr)}`);
    const manifest = JSON.parse(readFileSync(join(dir, 'MANIFEST.json'), 'utf8')) as ManifestLike;
    await edit(dir, manifest);
    manifest.files = manifest.files
      .filter((f) => existsSync(join(dir, f.path)))
      .map((f) => {
        const content = readFileSync(join(dir, f.path));
        return { ...f, size: content.length, sha256: sha256(content) };
      });
    const entries: RawEntry[] = [
      ...manifest.dirs.map((d): RawEntry => ({ name: d.path, type: 'directory', mode: d.mode })),
      ...manifest.files.map((f): RawEntry => ({ name: f.path, content: readFileSync(join(dir, f.path)), mode: f.mode })),
    ];
    return writeArchive(dest, await tarBytes(entries, manifest));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
