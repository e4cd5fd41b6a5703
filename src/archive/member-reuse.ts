/**
 * Reusing the gzip members of a previous archive (docs/format.md#incremental-creates). Every
 * body member of a plain archive is an independent gzip member of one segment of tar bytes
 * (gzip.ts); the writer records where each one lies (`MemberIndex`, kept in the archive's
 * `.json` summary). A new create that produces a segment byte-for-byte equal to one of the
 * previous archive's can copy that member instead of deflating the segment again.
 *
 * The index and the previous archive are untrusted input: a damaged or doctored one must
 * never put a byte in the new archive that the new create did not produce itself. So the
 * index only *suggests* a candidate (same length and CRC-32 as the new segment); the
 * candidate's bytes are then read from the previous archive and proven: its gzip header is
 * exactly the writer's own, it inflates completely with nothing left over, its output equals
 * the new segment byte for byte, and its trailer holds that segment's CRC-32 and length.
 * Anything else (an offset outside the file, a read error, any mismatch) means the segment
 * is compressed afresh. Inflating is several times cheaper than deflating, which is the gain.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import zlib from 'node:zlib';
import { GZIP_HEADER, type MemberReuse } from './gzip.js';

/** Inflate a raw deflate stream on the thread pool; also says how many input bytes it used. */
function inflateRaw(buf: Buffer, expected: number): Promise<{ buffer: Buffer; consumed: number }> {
  return new Promise((resolve, reject) => {
    // `info` makes the result { buffer, engine } (engine.bytesWritten: input consumed); @types/node does not type it.
    // One output buffer of the expected size (and a little): not 16 KiB pieces joined afterwards.
    // maxOutputLength: a member that inflates past the segment it claims to hold (a
    // decompression bomb in a damaged or hostile previous archive) fails here, at that size.
    const opts = {
      info: true,
      chunkSize: Math.max(64 * 1024, expected + 1024),
      maxOutputLength: Math.max(1, expected),
    } as zlib.ZlibOptions;
    zlib.inflateRaw(buf, opts, (err, result) => {
      if (err) return reject(err);
      const r = result as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      resolve({ buffer: r.buffer, consumed: r.engine.bytesWritten });
    });
  });
}

/** Where a plain archive's body members lie: `[compressed length, input length, CRC-32]` each, from `body_offset` on. */
export interface MemberIndex {
  body_offset: number;
  list: [number, number, number][];
}

/** How much reuse saved, for the create's timings. */
export interface ReuseStats {
  members: number;
  bytes: number;
  /** Candidates that failed their proof (a damaged previous archive). */
  refused: number;
  verifyMs: number;
}

/** Largest member a segment of `rawLength` bytes can honestly need (stored blocks plus framing). */
function plausibleLength(rawLength: number): number {
  return rawLength + Math.ceil(rawLength / 65535) * 5 + 64;
}

/** Members of one previous archive, offered for reuse (see the module header). */
export class PreviousArchive implements MemberReuse {
  private readonly byContent = new Map<string, { offset: number; length: number }[]>();
  readonly stats: ReuseStats = { members: 0, bytes: 0, refused: 0, verifyMs: 0 };

  private constructor(
    private readonly handle: FileHandle,
    index: MemberIndex,
    size: number,
  ) {
    let offset = index.body_offset;
    for (const [length, rawLength, crc] of index.list) {
      const at = offset;
      offset += length;
      if (at + length > size || length < GZIP_HEADER.length + 10 || length > plausibleLength(rawLength)) continue;
      const key = `${rawLength}:${crc >>> 0}`;
      const list = this.byContent.get(key) ?? [];
      if (list.length < 4) list.push({ offset: at, length });
      this.byContent.set(key, list);
    }
  }

  /**
   * Open `path` for reuse if `index` describes it: its members must add up to the file's
   * size exactly. Undefined (nothing to reuse) when the file cannot be opened or disagrees.
   */
  static async open(path: string, index: MemberIndex): Promise<PreviousArchive | undefined> {
    let handle: FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch {
      return undefined;
    }
    try {
      const { size } = await handle.stat();
      const total = index.list.reduce((n, [length]) => n + length, index.body_offset);
      if (total === size) return new PreviousArchive(handle, index, size);
    } catch {
      // Unusable: fall through and close.
    }
    await handle.close();
    return undefined;
  }

  async take(raw: Buffer, crc: number): Promise<Buffer | undefined> {
    const candidates = this.byContent.get(`${raw.length}:${crc >>> 0}`);
    if (!candidates) return undefined;
    for (const c of candidates) {
      const started = performance.now();
      const member = await this.proven(c.offset, c.length, raw, crc);
      this.stats.verifyMs += performance.now() - started;
      if (member) {
        this.stats.members++;
        this.stats.bytes += raw.length;
        return member;
      }
      this.stats.refused++;
    }
    return undefined;
  }

  /** The member at `offset` if it is exactly a gzip member of `raw` (see the module header). */
  private async proven(offset: number, length: number, raw: Buffer, crc: number): Promise<Buffer | undefined> {
    try {
      const member = Buffer.allocUnsafe(length);
      const { bytesRead } = await this.handle.read(member, 0, length, offset);
      if (bytesRead !== length) return undefined;
      if (!member.subarray(0, GZIP_HEADER.length).equals(GZIP_HEADER)) return undefined;
      const deflated = member.subarray(GZIP_HEADER.length, length - 8);
      const { buffer, consumed } = await inflateRaw(deflated, raw.length);
      if (consumed !== deflated.length || !buffer.equals(raw)) return undefined;
      if (member.readUInt32LE(length - 8) !== crc >>> 0 || member.readUInt32LE(length - 4) !== raw.length % 2 ** 32) return undefined;
      return member;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
