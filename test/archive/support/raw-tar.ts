/**
 * Tar bytes block by block, for archives no tar tool would write: bad checksums and magic,
 * malformed pax records, names with any bytes. Independent of the project's encoder.
 */
import { createHash, randomUUID } from 'node:crypto';

export const BLOCK = 512;

export interface RawBlock {
  name: string | Buffer;
  type?: string;
  size?: number;
  mode?: number;
  /** The eight bytes at 257 (default POSIX `ustar\0` `00`). */
  magic?: string;
  /** Write this in the size field instead of the octal of `size` (latin1). */
  sizeField?: string | Buffer;
  /** Store a checksum off by this much. */
  checksumSkew?: number;
}

/** One ustar header block. */
export function header(b: RawBlock): Buffer {
  const block = Buffer.alloc(BLOCK);
  Buffer.from(b.name).copy(block, 0, 0, 100);
  block.write(`${(b.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  if (b.sizeField !== undefined) Buffer.from(b.sizeField as string, 'latin1').copy(block, 124, 0, 12);
  else block.write(`${(b.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(b.type ?? '0', 156, 'latin1');
  block.write(b.magic ?? 'ustar\x0000', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(`${(sum + (b.checksumSkew ?? 0)).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

const pad = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** Header, body and padding of one entry (the header's size is the body's unless given). */
export function entry(b: RawBlock, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = Buffer.from(body);
  return Buffer.concat([header({ size: data.length, ...b }), data, pad(data.length)]);
}

/** `<len> <key>=<value>\n` with the self-counting length. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const v = Buffer.from(value);
  const rest = Buffer.byteLength(key) + v.length + 3;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), v, Buffer.from('\n')]);
}

/** A pax extended header entry holding `records`. */
export function pax(...records: Buffer[]): Buffer {
  return entry({ name: 'PaxHeader', type: 'x' }, Buffer.concat(records));
}

export const END = Buffer.alloc(2 * BLOCK);

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface Listing {
  files: { path: string; content: string; path_b64?: string }[];
  dirs: string[];
}

/** A valid agents-scope manifest for `l`, as JSON text. */
export function manifestJson(l: Listing, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 1,
    id: randomUUID(),
    created_at: '2026-06-05T02:00:00.000Z',
    scope: 'agents',
    hoziron_version: '0.1.0',
    host: 'test',
    files: l.files.map((f) => ({
      path: f.path,
      ...(f.path_b64 ? { path_b64: f.path_b64 } : {}),
      size: Buffer.byteLength(f.content),
      mode: 0o644,
      sha256: sha256(f.content),
    })),
    dirs: l.dirs.map((path) => ({ path, mode: 0o755 })),
    audit_head: null,
    ...extra,
  });
}

export const BASE: Listing = {
  files: [{ path: 'data/memory/notes.md', content: '# notes\n' }],
  dirs: ['data', 'data/memory'],
};

/** The entries of `l` (directories, then files) without the manifest. */
export function body(l: Listing = BASE): Buffer {
  return Buffer.concat([
    ...l.dirs.map((d) => entry({ name: d, type: '5', mode: 0o755 })),
    ...l.files.map((f) => entry({ name: f.path_b64 ? Buffer.from(f.path_b64, 'base64') : f.path }, f.content)),
  ]);
}

/** A whole tar: MANIFEST.json for `l`, then `middle` (default: the entries of `l`), then the end marker. */
export function tarOf(middle: Buffer = body(), l: Listing = BASE, manifest = manifestJson(l)): Buffer {
  return Buffer.concat([entry({ name: 'MANIFEST.json', mode: 0o600 }, manifest), middle, END]);
}
