/**
 * `ArchiveWriter`: the streaming tar.gz writer (format version 1, docs/format.md).
 *
 * MANIFEST.json must be the first entry, but it holds every file's SHA-256, which is only
 * known once every file has been read. Rather than read the home twice or copy the archive
 * once more, the writer writes the final temporary file in one pass, out of order: a region
 * at its start is *reserved* for the manifest (the caller estimates its compressed size from
 * the file list), every other entry streams after it as it is read and hashed, and `finish`
 * writes the manifest's gzip member into the region, padded to fill it exactly with a gzip
 * header comment (FCOMMENT, RFC 1952 §2.3.1), which every gzip reader skips. Should the
 * manifest not fit after all, `finish` falls back to writing a second file, manifest first,
 * then the body copied over (slower, same result).
 *
 * The body is a sequence of independent gzip members (gzip.ts), cut at entry boundaries:
 * small entries are grouped (a group ends after an entry whose name hashes to 0 modulo
 * `GROUP_SPLIT`, or at 1 MiB), and a large file's header is a member of its own, followed by
 * its data in 1 MiB members aligned to the file's start. So an unchanged file, or an
 * unchanged MiB of a database snapshot, is the same segment in the next archive, and its
 * member can be copied from this one once proven (member-reuse.ts). Where each member lies
 * is returned as a `MemberIndex` for the summary sidecar.
 *
 * Encrypted (recipients given, docs/format.md#encryption): the file is an age file written
 * the same way (`AgeFileWriter`): the reserved region is a whole number of 64 KiB STREAM
 * chunks, the body is sealed from the chunk after it as it is produced, and the region's
 * chunks are sealed and written last. Not one plaintext archive byte reaches the disk, and
 * there is no second pass: the SHA-256 (of the encrypted file, as for a plain one of the
 * plain file) is computed by reading the finished file back while it is fsynced.
 *
 * Crash safety: everything lives under a temporary name (`.hoziron-tmp-<pid>-<hex>.body`)
 * in the target's directory until `commit`, which links the fsynced archive into place and
 * fsyncs the directory. A process killed at any line leaves at most temporary files, which
 * the next backup command removes (`removeLeftovers`); never a partial archive under a real
 * name. Entries carry exactly the bytes that were hashed, so an entry can never disagree
 * with its manifest line.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { AgeFileWriter, encryptAge } from '../crypto/age.js';
import type { Recipient } from '../crypto/keys.js';
import { CHUNK } from '../crypto/stream.js';
import type { StreamSealer } from '../crypto/stream.js';
import { HozironError } from '../errors.js';
import { fsyncDir } from '../fsutil/durable.js';
import { tempPathIn } from '../fsutil/temp.js';
import { displayName, encodeName, manifestNameReplacer } from './entry-name.js';
import { GZIP_HEADER, GzipMembers, frameMember, type MemberInfo, type MemberReuse } from './gzip.js';
import { MANIFEST_NAME, type Manifest, type ManifestDocument, type ManifestFile } from './manifest.js';
import type { MemberIndex } from './member-reuse.js';
import { BLOCK, encodeHeader } from './tar-header.js';

const ZEROS = Buffer.alloc(2 * BLOCK);
/** A file larger than this gets members of its own (header, then its data MiB by MiB). */
const BIG_ENTRY = 256 * 1024;
/** A group of small entries ends after one whose name's CRC-32 is 0 modulo this. */
const GROUP_SPLIT = 64;
/** Reserved for the manifest when the caller gives no estimate. */
const DEFAULT_RESERVE = 64 * 1024;
/** Gzip header flag: a zero-terminated comment follows the fixed header. */
const FCOMMENT = 0x10;
const READ_BACK = 4 * 1024 * 1024;

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - rest);
}

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

export interface EntryMeta {
  mode: number;
  mtime: Date;
}

export interface WriterOptions {
  /**
   * Bytes reserved for the manifest's gzip member (see `estimateManifestMember`); may still
   * be being estimated (the body's first write waits for it).
   */
  reserve?: number | Promise<number>;
  /** Members of a previous archive that may be copied (plain archives only). */
  reuse?: MemberReuse;
}

/** Where the writer's time went, in milliseconds (summed where work ran in parallel). */
interface WriterTimings {
  hash: number;
  compress: number;
  write: number;
  manifest: number;
  checksum: number;
  fsync: number;
}

export interface FinishedArchive {
  size: number;
  sha256: string;
  /** The file's mtime; `commit` links the same inode into place, so it stays. */
  mtimeMs: number;
  /** Where the body's gzip members lie (plain archives). */
  members?: MemberIndex;
  timings: WriterTimings;
}

/** The manifest's tar entry (header, JSON, padding) without end-of-archive blocks. */
function manifestTar(json: Buffer, mtime: Date): Buffer {
  const head = encodeHeader({ name: MANIFEST_NAME, type: 'file', size: json.length, mode: 0o600, mtime });
  return Buffer.concat([head, json, padding(json.length)]);
}

/** The manifest's tar entry deflated (level 6), with what its gzip trailer needs. */
async function deflateManifest(manifest: Manifest | ManifestDocument): Promise<{ deflated: Buffer; crc: number; rawLength: number }> {
  const tar = manifestTar(Buffer.from(JSON.stringify(manifest, manifestNameReplacer)), new Date(manifest.created_at));
  return { deflated: await deflateRaw(tar, { level: 6 }), crc: zlib.crc32(tar), rawLength: tar.length };
}

/** Bytes a gzip member around `deflated` takes with the plain header (10) and trailer (8). */
const bareMemberLength = (deflated: Buffer) => GZIP_HEADER.length + deflated.length + 8;

function commentHeader(pad: number): Buffer {
  const header = Buffer.alloc(GZIP_HEADER.length + pad + 1, 0x20);
  GZIP_HEADER.copy(header);
  header[3] = FCOMMENT;
  header[header.length - 1] = 0;
  return header;
}

/**
 * An upper estimate of the manifest member's size, from the text of a draft manifest whose
 * unknowns are stand-ins of the same shape (random hex for digests, the largest sizes),
 * given in pieces so that no copy of the whole draft is ever held. Random hex compresses as
 * the real digests do; 1 % and 512 bytes spare cover the rest (and a miss only costs the
 * fallback's copy).
 */
export async function estimateManifestMember(text: Iterable<string>): Promise<number> {
  const deflate = zlib.createDeflateRaw({ level: 6 });
  let deflated = 0;
  deflate.on('data', (chunk: Buffer) => {
    deflated += chunk.length;
  });
  const ended = once(deflate, 'end');
  for (const piece of text) if (!deflate.write(piece)) await once(deflate, 'drain');
  deflate.end();
  await ended;
  // The entry's tar header and padding: a block each, compressed to far less.
  return Math.ceil((bareMemberLength(Buffer.alloc(0)) + deflated + 2 * BLOCK) * 1.01) + 512;
}

export class ArchiveWriter {
  private readonly gz: GzipMembers;
  private readonly file: Promise<FileHandle>;
  private finalPath: string;
  private closed = false;
  /** Bytes of plaintext reserved at the start of the archive for the manifest's member. */
  private reserve = 0;
  /** Where the body's next byte goes in the file. */
  private position = 0;
  /** Set once the reserve is known: `reserve`, `position` and `sealer` are then valid. */
  private readonly laidOut: Promise<void>;
  private readonly members: [number, number, number][] = [];
  private readonly age: AgeFileWriter | undefined;
  private sealer: StreamSealer | undefined;
  private readonly times = { hash: 0, write: 0 };
  /** Every temporary file made, for `abort`. */
  private readonly paths: string[] = [];
  private rewritten: FileHandle | undefined;

  private constructor(
    readonly target: string,
    private readonly recipients: readonly Recipient[],
    opts: WriterOptions,
    age: AgeFileWriter | undefined,
  ) {
    // `.body` while the body streams in; `commit` links this same file into place.
    this.finalPath = tempPathIn(dirname(target), 'body');
    this.paths.push(this.finalPath);
    this.age = age;
    this.laidOut = Promise.resolve(opts.reserve ?? DEFAULT_RESERVE).then((reserve) => this.layOut(reserve));
    this.laidOut.catch(() => undefined);
    // A previous archive's members are plaintext: an encrypted archive never reuses them.
    this.gz = new GzipMembers((member, info) => this.emit(member, info), { reuse: this.age ? undefined : opts.reuse });
    this.file = fs.open(this.finalPath, 'wx+', 0o600).then(async (fh) => {
      // open() applies the umask; the archive holds secrets, so make it exactly 0600.
      await fh.chmod(0o600);
      return fh;
    });
    // Failures surface at the first write or in `abort`; never as an unhandled rejection.
    this.file.catch(() => undefined);
  }

  /**
   * Start an archive that `commit` will place at `target` (its directory must exist);
   * encrypted to `recipients` when there are any.
   */
  static async open(target: string, recipients: readonly Recipient[] = [], opts: WriterOptions = {}): Promise<ArchiveWriter> {
    const age = recipients.length > 0 ? await AgeFileWriter.create(recipients) : undefined;
    return new ArchiveWriter(target, recipients, opts, age);
  }

  /** Place the body after a region of (at least) `wanted` bytes. */
  private layOut(wanted: number): void {
    wanted = Math.max(wanted, GZIP_HEADER.length + 64);
    if (this.age) {
      this.reserve = Math.ceil(wanted / CHUNK) * CHUNK;
      this.sealer = this.age.sealerAt(this.reserve / CHUNK);
      this.position = this.age.offsetOf(this.reserve / CHUNK);
    } else {
      this.reserve = wanted;
      this.position = wanted;
    }
  }

  private async writeAt(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  }

  /** One body member, in order: recorded in the index, sealed when encrypting, written. */
  private async emit(member: Buffer, info: MemberInfo): Promise<void> {
    this.members.push([info.length, info.rawLength, info.crc >>> 0]);
    await this.laidOut;
    const out = this.sealer ? this.sealer.update(member) : member;
    if (out.length === 0) return;
    const started = performance.now();
    await this.writeAt(await this.file, out, this.position);
    this.position += out.length;
    this.times.write += performance.now() - started;
  }

  private header(path: string, meta: EntryMeta, type: 'file' | 'directory', size: number): Buffer {
    // As bytes: a name that is not UTF-8 goes into the archive exactly (pax hdrcharset=BINARY).
    return encodeHeader({ name: encodeName(path), type, size, mode: meta.mode & 0o777, mtime: meta.mtime });
  }

  /** After a small entry: end the group here if the entry's name says so (see the module header). */
  private async endSmall(path: string): Promise<void> {
    if (zlib.crc32(path) % GROUP_SPLIT === 0) await this.gz.cut();
  }

  /** Before a large file's data: its header as a member of its own, so the data starts a member. */
  private async startBig(head: Buffer): Promise<void> {
    await this.gz.cut();
    await this.gz.write(head);
    await this.gz.cut();
  }

  private sha256(data: Buffer): string {
    const started = performance.now();
    const digest = createHash('sha256').update(data).digest('hex');
    this.times.hash += performance.now() - started;
    return digest;
  }

  async addDirectory(path: string, meta: EntryMeta): Promise<void> {
    await this.gz.write(this.header(path, meta, 'directory', 0));
    await this.endSmall(path);
  }

  /** Add a file whose bytes are in memory; returns its manifest line. */
  async addBuffer(path: string, data: Buffer, meta: EntryMeta): Promise<ManifestFile> {
    const sha256 = this.sha256(data);
    const head = this.header(path, meta, 'file', data.length);
    if (data.length > BIG_ENTRY) await this.startBig(head);
    else await this.gz.write(head);
    await this.gz.write(data);
    await this.gz.write(padding(data.length));
    if (data.length > BIG_ENTRY) await this.gz.cut();
    else await this.endSmall(path);
    return { path, size: data.length, mode: meta.mode & 0o777, sha256 };
  }

  /**
   * Add a file of `size` bytes read from `source`. Exactly `size` bytes are taken; a source
   * that ends early is an error (the entry's size is already in its header).
   */
  async addStream(
    path: string,
    size: number,
    meta: EntryMeta,
    source: AsyncIterable<Buffer>,
    onBytes?: (n: number) => void,
  ): Promise<ManifestFile> {
    const hash = createHash('sha256');
    const head = this.header(path, meta, 'file', size);
    const big = size > BIG_ENTRY;
    if (big) await this.startBig(head);
    else await this.gz.write(head);
    let got = 0;
    for await (const raw of source) {
      const chunk = got + raw.length > size ? raw.subarray(0, size - got) : raw;
      got += chunk.length;
      const started = performance.now();
      hash.update(chunk);
      this.times.hash += performance.now() - started;
      onBytes?.(chunk.length);
      await this.gz.write(chunk);
      if (got === size) break;
    }
    if (got < size) {
      const err = new HozironError(
        'io',
        `${displayName(path)} shrank from ${size} to ${got} bytes while it was being archived`,
        'run the backup again',
      );
      this.gz.destroy(err);
      throw err;
    }
    await this.gz.write(padding(size));
    if (big) await this.gz.cut();
    else await this.endSmall(path);
    return { path, size, mode: meta.mode & 0o777, sha256: hash.digest('hex') };
  }

  /**
   * Close the body and write the manifest's member into its reserved region (or, if it does
   * not fit, a second file manifest first). Returns the size and SHA-256 of the finished
   * temporary archive, fsynced; `commit` puts it in place.
   */
  async finish(manifest: Manifest | ManifestDocument): Promise<FinishedArchive> {
    await this.gz.write(ZEROS); // end of archive: two zero blocks
    await this.gz.end();
    await this.laidOut;
    const fh = await this.file;
    if (this.sealer) {
      const last = this.sealer.final();
      await this.writeAt(fh, last, this.position);
      this.position += last.length;
    }
    const started = performance.now();
    const { deflated, crc, rawLength } = await deflateManifest(manifest);
    const bare = bareMemberLength(deflated);
    // The smallest padded member: the comment is then just its terminating NUL.
    const fits = bare + 1 <= this.reserve;
    let bodyOffset = this.reserve;
    if (fits) {
      const member = frameMember(deflated, crc, rawLength, commentHeader(this.reserve - bare - 1));
      if (this.age) {
        await this.writeAt(fh, this.age.prefix, 0);
        await this.writeAt(fh, this.age.sealerAt(0).sealChunks(member), this.age.prefix.length);
      } else {
        await this.writeAt(fh, member, 0);
      }
    } else {
      bodyOffset = bare;
      await this.rewriteWith(frameMember(deflated, crc, rawLength));
    }
    const manifestMs = performance.now() - started;
    const out = await this.file2();
    const sealed = await this.sealFile(out);
    this.age?.destroy();
    return {
      ...sealed,
      members: this.age ? undefined : { body_offset: bodyOffset, list: this.members },
      timings: {
        hash: Math.round(this.times.hash),
        compress: Math.round(this.gz.compressMs),
        write: Math.round(this.times.write),
        manifest: Math.round(manifestMs),
        checksum: sealed.checksumMs,
        fsync: sealed.fsyncMs,
      },
    };
  }

  /** The file that holds the finished archive: the first one, or the fallback's. */
  private async file2(): Promise<FileHandle> {
    return this.rewritten ?? (await this.file);
  }

  /**
   * The fallback when the manifest did not fit its region: a second temporary file with the
   * manifest member first and the body after it (opened and sealed again when encrypting).
   */
  private async rewriteWith(member: Buffer): Promise<void> {
    const first = await this.file;
    const firstPath = this.finalPath;
    const path = tempPathIn(dirname(this.target), 'tar.gz');
    this.paths.push(path);
    const out = await fs.open(path, 'wx+', 0o600);
    this.finalPath = path;
    this.rewritten = out;
    await out.chmod(0o600);
    const bodyFrom = this.age ? this.age.offsetOf(this.reserve / CHUNK) : this.reserve;
    const body = readRange(first, bodyFrom, this.position);
    let at = 0;
    const put = async (buf: Buffer) => {
      await this.writeAt(out, buf, at);
      at += buf.length;
    };
    if (this.age) {
      const opener = this.age.openerAt(this.reserve / CHUNK);
      const plain = (async function* () {
        yield member;
        for await (const chunk of body) {
          const p = opener.update(chunk);
          if (p.length > 0) yield p;
        }
        yield opener.final();
      })();
      for await (const chunk of encryptAge(plain, this.recipients)) await put(chunk);
    } else {
      await put(member);
      for await (const chunk of body) await put(chunk);
    }
    await first.close();
    await fs.rm(firstPath, { force: true });
  }

  /** Read the finished file back for its SHA-256 while it is fsynced; then close it. */
  private async sealFile(fh: FileHandle): Promise<{ size: number; sha256: string; mtimeMs: number; checksumMs: number; fsyncMs: number }> {
    const hash = createHash('sha256');
    let size = 0;
    let checksumMs: number;
    let fsyncMs = 0;
    const started = performance.now();
    try {
      // The archive must be durable before it is linked into place.
      const synced = fh.sync().then(() => {
        fsyncMs = performance.now() - started;
      });
      synced.catch(() => undefined);
      for await (const chunk of readRange(fh, 0, Infinity, true)) {
        hash.update(chunk);
        size += chunk.length;
      }
      checksumMs = performance.now() - started;
      await synced;
    } finally {
      await fh.close();
    }
    const st = await fs.stat(this.finalPath);
    return { size, sha256: hash.digest('hex'), mtimeMs: st.mtimeMs, checksumMs: Math.round(checksumMs), fsyncMs: Math.round(fsyncMs) };
  }

  /** Rename the finished archive into place (never over an existing file) and fsync. */
  async commit(): Promise<void> {
    // link() fails if the target exists, so an archive is never replaced.
    const exists = () =>
      new HozironError('conflict', `${this.target} already exists; not replacing it`, 'choose another path', {
        remedy: 'other_output',
      });
    try {
      await fs.link(this.finalPath, this.target);
      await fs.unlink(this.finalPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw exists();
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      // A filesystem without hard links: check, then rename (a narrow race, not a crash risk).
      if (
        await fs.stat(this.target).then(
          () => true,
          () => false,
        )
      )
        throw exists();
      await fs.rename(this.finalPath, this.target);
    }
    await fsyncDir(dirname(this.target));
    this.closed = true;
  }

  /** Remove every temporary file of this archive. Safe to call more than once. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gz.destroy();
    this.age?.destroy();
    const fh = await this.file.catch(() => undefined);
    await fh?.close().catch(() => undefined);
    await this.rewritten?.close().catch(() => undefined);
    for (const path of this.paths) await fs.rm(path, { force: true });
  }

  get name(): string {
    return basename(this.target);
  }
}

/**
 * The bytes of an open file from `start` up to `end` (or its end), in fresh buffers, or with
 * `reuse` in one buffer refilled each time (for a consumer done with each piece at once).
 */
async function* readRange(fh: FileHandle, start: number, end: number, reuse = false): AsyncGenerator<Buffer> {
  let position = start;
  let spare: Buffer | undefined;
  while (position < end) {
    const buf = reuse ? (spare ??= Buffer.allocUnsafe(READ_BACK)) : Buffer.allocUnsafe(Math.min(READ_BACK, end - position));
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - position), position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
}
