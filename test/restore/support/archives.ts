/**
 * Hand-built archives for the restore tests, made with tar-stream's packer and zlib directly
 * (independent of the project's writer), so a hostile archive is exactly what an attacker
 * would write: any entry type, any name, any manifest.
 */
import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { pack as tarPack, type Header } from 'tar-stream';

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
