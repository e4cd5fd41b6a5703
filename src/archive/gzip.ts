/**
 * Parallel gzip, pigz style. The input is cut into fixed-size chunks; each chunk is
 * deflated on libuv's thread pool (`zlib.deflateRaw`, async) with the previous chunk's last
 * 32 KiB as its dictionary, so matches can reach back across the cut exactly as a single
 * deflate stream's window would. Every chunk but the last ends with a sync flush (byte
 * aligned, not final) and the last with Z_FINISH, so the concatenated outputs are one valid
 * deflate stream; it is framed as one gzip member whose CRC-32 (`zlib.crc32`) and length
 * are computed on the input as it arrives. Outputs are emitted in input order and at most
 * `PARALLEL_JOBS` chunks are in flight, so memory is bounded (a few MiB) whatever the size.
 *
 * Incompressible chunks (already-compressed skill packages, random data) are detected by a
 * cheap byte-entropy estimate on a few samples and framed as stored blocks right here, with
 * no zlib call: deflate at level 6 spends ~25 ms/MiB searching for matches that do not
 * exist and then falls back to stored blocks anyway, so the output is the same size or
 * smaller. Every chunk starts byte-aligned (a sync flush or a stored block ends on a byte
 * boundary), which is what lets stored and deflated chunks follow each other freely.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

const CHUNK_SIZE = 1024 * 1024;
/** Chunks compressed at once; the thread pool has 4 threads and file I/O needs one. */
const PARALLEL_JOBS = 3;
const WINDOW = 32 * 1024;
const SAMPLE = 8 * 1024;
/** Estimated bits per byte above which a sample is treated as incompressible. */
const ENTROPY_LIMIT = 7.9;

/** A 10-byte gzip header: deflate, no name, mtime 0, OS unknown (255). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

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
 * `data` as deflate stored blocks (RFC 1951 §3.2.4), starting byte-aligned: a block header
 * byte (BFINAL, BTYPE=00, padding), LEN and NLEN little-endian, then up to 65,535 bytes.
 */
function storedBlocks(data: Buffer, last: boolean): Buffer {
  const MAX = 65535;
  const blocks = Math.max(1, Math.ceil(data.length / MAX));
  const out = Buffer.allocUnsafe(data.length + blocks * 5);
  let o = 0;
  for (let b = 0; b < blocks; b++) {
    const start = b * MAX;
    const len = Math.min(MAX, data.length - start);
    out[o++] = last && b === blocks - 1 ? 1 : 0;
    out.writeUInt16LE(len, o);
    out.writeUInt16LE(~len & 0xffff, o + 2);
    o += 4;
    data.copy(out, o, start, start + len);
    o += len;
  }
  return out;
}

export interface ParallelGzipOptions {
  level?: number;
  chunkSize?: number;
  jobs?: number;
}

/** A Transform: bytes in, one gzip member out. */
export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly chunkSize: number;
  private readonly jobs: number;
  private buf: Buffer;
  private fill = 0;
  private dictionary: Buffer | undefined;
  private crc = 0;
  private length = 0;
  private readonly inflight: Promise<Buffer>[] = [];
  private headerSent = false;

  constructor(opts: ParallelGzipOptions = {}) {
    // Up to 1 MiB may wait to be chunked, so many small writes pass without a drain wait.
    super({ writableHighWaterMark: 1024 * 1024 });
    this.level = opts.level ?? 6;
    this.chunkSize = opts.chunkSize ?? CHUNK_SIZE;
    this.jobs = opts.jobs ?? PARALLEL_JOBS;
    this.buf = Buffer.allocUnsafe(this.chunkSize);
  }

  private dispatch(last: boolean): void {
    const chunk = this.buf.subarray(0, this.fill);
    this.crc = zlib.crc32(chunk, this.crc);
    this.length += chunk.length;
    let job: Promise<Buffer>;
    if (looksIncompressible(chunk)) {
      job = Promise.resolve(storedBlocks(chunk, last));
    } else {
      const opts: zlib.ZlibOptions = {
        level: this.level,
        // Output in 256 KiB pieces: a compressible MiB needs one or two thread-pool round
        // trips (not 20 at the default 16 KiB), without pinning 1 MiB per job.
        chunkSize: 256 * 1024,
        finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
      };
      if (this.dictionary) opts.dictionary = this.dictionary;
      job = deflateRaw(chunk, opts);
      // Mark the rejection handled now; it is rethrown when the job is awaited in order.
      job.catch(() => undefined);
    }
    this.inflight.push(job);
    // The next chunk's dictionary is this chunk's tail (copied: the buffer is not kept).
    this.dictionary = Buffer.from(chunk.subarray(Math.max(0, chunk.length - WINDOW)));
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    this.fill = 0;
  }

  private async drainTo(limit: number): Promise<void> {
    while (this.inflight.length > limit) {
      const out = await this.inflight.shift()!;
      if (!this.headerSent) {
        this.push(GZIP_HEADER);
        this.headerSent = true;
      }
      this.push(out);
    }
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.accept(data).then(() => cb(), cb);
  }

  private async accept(data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(this.chunkSize - this.fill, data.length - offset);
      data.copy(this.buf, this.fill, offset, offset + n);
      this.fill += n;
      offset += n;
      if (this.fill === this.chunkSize) {
        this.dispatch(false);
        await this.drainTo(this.jobs - 1);
      }
    }
  }

  override _flush(cb: TransformCallback): void {
    this.dispatch(true);
    this.drainTo(0).then(() => {
      const trailer = Buffer.allocUnsafe(8);
      trailer.writeUInt32LE(this.crc >>> 0, 0);
      trailer.writeUInt32LE(this.length % 2 ** 32, 4);
      this.push(trailer);
      cb();
    }, cb);
  }
}
