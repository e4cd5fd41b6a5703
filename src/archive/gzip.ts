/**
 * Parallel gzip as a sequence of independent members (RFC 1952 §2.2: concatenated members
 * are one gzip stream to every reader). The writer feeds tar bytes and marks *cuts* at entry
 * boundaries; the bytes between two cuts (at most `chunkSize`, 1 MiB) are one *segment*, and
 * every segment becomes one complete gzip member, deflated on libuv's thread pool with no
 * dictionary. Members are emitted in input order with at most `jobs` segments in flight, so
 * memory is bounded (a few MiB) whatever the size.
 *
 * Independent members cost a little ratio against one long deflate stream (a fresh 32 KiB
 * window per MiB) but buy two things: a member can be copied verbatim from a previous archive
 * when its segment is byte-for-byte unchanged (`MemberReuse`, see member-reuse.ts), and every
 * member is self-describing (its trailer holds the CRC-32 and length of its input).
 *
 * Incompressible segments (already-compressed skill packages, random data) are detected by a
 * cheap byte-entropy estimate on a few samples and framed as stored blocks with no zlib call:
 * deflate at level 6 spends ~25 ms/MiB searching for matches that do not exist and then falls
 * back to stored blocks anyway.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

const CHUNK_SIZE = 1024 * 1024;
/** Segments compressed at once; the thread pool has 4 threads and file I/O needs one. */
const PARALLEL_JOBS = 3;
const SAMPLE = 8 * 1024;
/** Estimated bits per byte above which a sample is treated as incompressible. */
const ENTROPY_LIMIT = 7.9;

/** The 10-byte gzip header of every body member: deflate, no name, mtime 0, OS unknown (255). */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

function entropyBits(buf: Buffer, start: number, end: number): number {
  const counts = new Uint32Array(256);
  for (let i = start; i < end; i++) counts[buf[i]!]!++;
  const n = end - start;
  let bits = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c > 0) {
      const p = c / n;
      bits -= p * Math.log2(p);
    }
  }
  return bits;
}

/** True when every sample of `chunk` looks like random bytes. */
export function looksIncompressible(chunk: Buffer): boolean {
  if (chunk.length < 4 * SAMPLE) return false;
  const step = Math.floor((chunk.length - SAMPLE) / 3);
  for (let k = 0; k < 4; k++) {
    const start = k * step;
    if (entropyBits(chunk, start, start + SAMPLE) < ENTROPY_LIMIT) return false;
  }
  return true;
}

/**
 * `data` as deflate stored blocks (RFC 1951 §3.2.4), the last one final: a block header
 * byte (BFINAL, BTYPE=00, padding), LEN and NLEN little-endian, then up to 65,535 bytes.
 */
function storedBlocks(data: Buffer): Buffer {
  const MAX = 65535;
  const blocks = Math.max(1, Math.ceil(data.length / MAX));
  const out = Buffer.allocUnsafe(data.length + blocks * 5);
  let o = 0;
  for (let b = 0; b < blocks; b++) {
    const start = b * MAX;
    const len = Math.min(MAX, data.length - start);
    out[o++] = b === blocks - 1 ? 1 : 0;
    out.writeUInt16LE(len, o);
    out.writeUInt16LE(~len & 0xffff, o + 2);
    o += 4;
    data.copy(out, o, start, start + len);
    o += len;
  }
  return out;
}

/** A complete gzip member around a final deflate stream of `raw` (whose CRC-32 is `crc`). */
export function frameMember(deflated: Buffer, crc: number, rawLength: number, header: Buffer = GZIP_HEADER): Buffer {
  const out = Buffer.allocUnsafe(header.length + deflated.length + 8);
  header.copy(out, 0);
  deflated.copy(out, header.length);
  out.writeUInt32LE(crc >>> 0, header.length + deflated.length);
  out.writeUInt32LE(rawLength % 2 ** 32, header.length + deflated.length + 4);
  return out;
}

/** One member as written: its compressed length, its input's length and CRC-32, and whether it was copied. */
export interface MemberInfo {
  length: number;
  rawLength: number;
  crc: number;
  reused: boolean;
}

/**
 * Where unchanged members come from: given a segment's bytes and CRC-32, a verified member
 * whose content is exactly those bytes, or undefined (then the segment is compressed).
 */
export interface MemberReuse {
  take(raw: Buffer, crc: number): Promise<Buffer | undefined>;
}

export interface GzipMembersOptions {
  level?: number;
  chunkSize?: number;
  jobs?: number;
  reuse?: MemberReuse;
}

interface Job {
  member: Promise<Buffer>;
  rawLength: number;
  crc: number;
  reused: () => boolean;
}

/** Bytes in, gzip members out to `emit`, in order (see the module header). */
export class GzipMembers {
  private readonly level: number;
  private readonly chunkSize: number;
  private readonly jobs: number;
  private readonly reuse: MemberReuse | undefined;
  private buf: Buffer;
  private fill = 0;
  private readonly inflight: Job[] = [];
  /** Segment buffers whose jobs are done, for the next segments: a fresh MiB each would be garbage. */
  private readonly spare: Buffer[] = [];
  private failed: Error | undefined;
  /** Milliseconds the segments spent being deflated (summed over parallel jobs). */
  compressMs = 0;

  constructor(
    private readonly emit: (member: Buffer, info: MemberInfo) => Promise<void>,
    opts: GzipMembersOptions = {},
  ) {
    this.level = opts.level ?? 6;
    this.chunkSize = opts.chunkSize ?? CHUNK_SIZE;
    this.jobs = opts.jobs ?? PARALLEL_JOBS;
    this.reuse = opts.reuse;
    this.buf = Buffer.allocUnsafe(this.chunkSize);
  }

  private compress(raw: Buffer, crc: number): Promise<Buffer> {
    if (looksIncompressible(raw)) return Promise.resolve(frameMember(storedBlocks(raw), crc, raw.length));
    const started = performance.now();
    return deflateRaw(raw, {
      level: this.level,
      // Output in 256 KiB pieces: a compressible MiB needs one or two thread-pool round
      // trips (not 20 at the default 16 KiB), without pinning 1 MiB per job.
      chunkSize: 256 * 1024,
    }).then((deflated) => {
      this.compressMs += performance.now() - started;
      return frameMember(deflated, crc, raw.length);
    });
  }

  private dispatch(): void {
    if (this.fill === 0) return;
    const whole = this.buf;
    const raw = whole.subarray(0, this.fill);
    const crc = zlib.crc32(raw);
    let reused = false;
    const member = this.reuse
      ? this.reuse.take(raw, crc).then((found) => {
          reused = found !== undefined;
          return found ?? this.compress(raw, crc);
        })
      : this.compress(raw, crc);
    // The segment's buffer serves again once its job no longer reads it.
    void member.then(
      () => this.spare.push(whole),
      () => undefined,
    );
    this.inflight.push({ member, rawLength: raw.length, crc, reused: () => reused });
    this.buf = this.spare.pop() ?? Buffer.allocUnsafe(this.chunkSize);
    this.fill = 0;
  }

  private async drainTo(limit: number): Promise<void> {
    while (this.inflight.length > limit) {
      const job = this.inflight.shift()!;
      const member = await job.member;
      await this.emit(member, { length: member.length, rawLength: job.rawLength, crc: job.crc, reused: job.reused() });
    }
  }

  private check(): void {
    if (this.failed) throw this.failed;
  }

  /** Append bytes; a segment is cut whenever `chunkSize` bytes have gathered. */
  async write(data: Buffer): Promise<void> {
    this.check();
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(this.chunkSize - this.fill, data.length - offset);
      data.copy(this.buf, this.fill, offset, offset + n);
      this.fill += n;
      offset += n;
      if (this.fill === this.chunkSize) await this.cut();
    }
  }

  /** End the current segment here (an entry boundary), if it holds anything. */
  async cut(): Promise<void> {
    this.check();
    this.dispatch();
    await this.drainTo(this.jobs - 1);
  }

  /** Bytes in the current, not yet cut segment. */
  get pending(): number {
    return this.fill;
  }

  /** Cut the last segment and wait until every member has been emitted. */
  async end(): Promise<void> {
    this.check();
    this.dispatch();
    await this.drainTo(0);
  }

  /** Stop: later calls fail with `err`; members in flight are dropped. */
  destroy(err?: Error): void {
    this.failed ??= err ?? new Error('the compressor was stopped');
    this.inflight.length = 0;
  }
}
