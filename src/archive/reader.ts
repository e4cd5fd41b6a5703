/**
 * The strict streaming reader of Hoziron archives: file → SHA-256 of the raw bytes → gunzip
 * (Node zlib, in the thread pool; multi-member gzip works) → our own tar parser → a sink.
 * Every hostile-entry check lives here or in `entry-policy.ts` (the pure accept/refuse rules
 * for one entry), and none of them depends on the checksum: links, devices, FIFOs and any
 * other type are refused by name; names must be clean relative paths listed in the
 * manifest, once; a size must equal the manifest's before the body is read and the body is
 * read to exactly that size (no decompression bomb); the pax and ustar sizes
 * must agree; the SHA-256 of every body must match; bytes after the end-of-archive marker
 * must be zero padding, and nothing may follow the gzip stream. The raw headers are parsed
 * by `tar-header.ts` (not tar-stream, which hides the ustar size behind the pax one).
 * The reader writes nothing: the sink decides what to do with the entries.
 * An archive named `….age` is an age file: it is opened by `AgeDecrypter` (crypto/age.ts)
 * between the hashing tap (the checksum is of the encrypted file) and gunzip, and needs an
 * identity; every check above then applies to its plaintext unchanged.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AgeDecrypter, isAgeName, startsLikeAge } from '../crypto/age.js';
import type { Identity } from '../crypto/keys.js';
import { HozironError, errnoCode } from '../errors.js';
import { checkManifestPaths } from './entry-paths.js';
import { decodeName } from './entry-name.js';
import { classifyEntry, type EntryHeaders, type EntryVerdict } from './entry-policy.js';
import { MANIFEST_NAME, ManifestReader, type Manifest, type ManifestDir, type ManifestFile } from './manifest.js';
import { BLOCK, HeaderError, isZeroBlock, parseHeader, parsePax, type RawHeader } from './tar-header.js';

/** Receives the entries of an archive, in order, once each has passed its checks. */
export interface EntrySink {
  /** The validated manifest; may be async (for a preflight) and may throw to stop. */
  manifest?(m: Manifest): void | Promise<void>;
  directory(dir: ManifestDir): void;
  /** A file starts; `data` follows in order; `closeFile` only after its SHA-256 matched. */
  openFile(file: ManifestFile): void;
  /** May return a promise to slow the reader down (the sink is saturated). */
  data(chunk: Buffer): void | Promise<void>;
  closeFile(file: ManifestFile): void;
}

/** A manifest validated earlier, and the SHA-256 of its text. */
export interface KnownManifest {
  manifest: Manifest;
  digest: string;
}

export interface ReadResult {
  manifest: Manifest;
  /** SHA-256 (hex) of the whole archive file as read. */
  sha256: string;
}

const MAX_META_BYTES = 1024 * 1024; // pax / GNU long-name bodies
const MAX_TRAILER_BYTES = 1024 * 1024; // zero padding after the end-of-archive marker
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class StopAfterManifest extends Error {}

/**
 * zlib hands out each output chunk in a buffer of its own, and V8 frees a dead buffer only
 * at a collection. The few JS objects a chunk makes hardly ever fill the young generation,
 * so without help dead chunks pile up to V8's external-memory allowance (64 MiB) before a
 * collection runs. When the process has `gc` (bin/hoziron passes --expose-gc), a collection
 * of the young generation (well under a millisecond) every `COLLECT_EVERY` bytes of such
 * buffers frees them; without it (a test running the module in-process) nothing changes.
 */
const COLLECT_EVERY = 8 * 1024 * 1024;
const collectGarbage = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
/** Buffer bytes the readers allocated since the last collection (all readers: `list` reads thousands of manifests). */
let uncollected = 0;

function noteAllocated(bytes: number): void {
  uncollected += bytes;
  if (collectGarbage && uncollected >= COLLECT_EVERY) {
    uncollected = 0;
    collectGarbage({ type: 'minor' });
  }
}

const READ_CHUNK = 1 << 20;
/** 512 KiB outputs: a quarter of the thread-pool round trips (and main-thread callbacks) of 128 KiB. */
const GUNZIP_CHUNK = 512 * 1024;

type Pending = 'header' | 'meta' | 'body' | 'padding' | 'end';

/** Which of the manifest's entries have been read: one byte per entry, not a set of names. */
class SeenEntries {
  private m: Manifest | undefined;
  private files = new Uint8Array(0);
  private dirs = new Uint8Array(0);

  listed(m: Manifest): void {
    this.m = m;
    this.files = new Uint8Array(m.files.length);
    this.dirs = new Uint8Array(m.dirs.length);
  }

  has(name: string): boolean {
    if (!this.m) return false;
    const f = this.m.files.indexOf(name);
    if (f >= 0) return this.files[f] === 1;
    const d = this.m.dirs.indexOf(name);
    return d >= 0 && this.dirs[d] === 1;
  }

  markFile(name: string): void {
    this.files[this.m!.files.indexOf(name)] = 1;
  }

  markDir(name: string): void {
    this.dirs[this.m!.dirs.indexOf(name)] = 1;
  }

  /** The first listed entry not read (directories with a trailing slash), if any. */
  firstMissing(): string | undefined {
    const f = this.files.indexOf(0);
    if (f >= 0) return this.m!.files.pathAt(f);
    const d = this.dirs.indexOf(0);
    return d >= 0 ? `${this.m!.dirs.pathAt(d)}/` : undefined;
  }
}

/** The tar state machine, fed decompressed bytes. */
class StrictTarParser extends Writable {
  manifest: Manifest | undefined;
  private state: Pending = 'header';
  private readonly block = Buffer.alloc(BLOCK);
  private blockFill = 0;
  private zeroBlocks = 0;
  private trailerBytes = 0;
  private offset = 0; // decompressed offset of the current header, for messages
  // Extended headers that apply to the next entry.
  private paxPath: string | undefined;
  private paxSize: number | undefined;
  private gnuName: string | undefined;
  private paxLinkpath: string | undefined;
  private sawExtended = false;
  private readonly metaSeen = new Set<string>();
  // The entry whose body is being read.
  private metaType = '';
  private metaChunks: Buffer[] = [];
  private remaining = 0;
  private padding = 0;
  private current: { kind: 'manifest' | 'file'; name: string; file?: ManifestFile; hash?: Hash } | undefined;
  /** The manifest being read as it streams (no copy of its text is kept), and its hash. */
  private manifestText: { reader: ManifestReader | undefined; hash: Hash } | undefined;
  /** Which listed entries have been read, by their index in the manifest's lists. */
  private readonly seen = new SeenEntries();

  /** SHA-256 of the MANIFEST.json text as read. */
  manifestDigest = '';

  constructor(
    private readonly source: string,
    private readonly sink: EntrySink | undefined,
    private readonly known?: KnownManifest,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  private refuse(msg: string): HozironError {
    return new HozironError('archive_invalid', `${this.source}: ${msg}`);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    noteAllocated(chunk.length);
    this.consume(chunk).then(
      () => cb(),
      (err: Error) => cb(err),
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      if (this.state !== 'end') {
        const where = this.current ? `in the middle of ${this.current.name}` : 'before the end-of-archive marker';
        throw this.refuse(`the archive is truncated (it ends ${where})`);
      }
      if (!this.manifest) throw this.refuse(`the archive has no ${MANIFEST_NAME}`);
      const missing = this.seen.firstMissing();
      if (missing) throw this.refuse(`${missing} is listed in ${MANIFEST_NAME} but missing from the archive`);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private async consume(chunk: Buffer): Promise<void> {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case 'header': {
          const take = Math.min(BLOCK - this.blockFill, chunk.length - pos);
          chunk.copy(this.block, this.blockFill, pos, pos + take);
          this.blockFill += take;
          pos += take;
          if (this.blockFill === BLOCK) {
            this.blockFill = 0;
            this.onHeader();
            this.offset += BLOCK;
          }
          break;
        }
        case 'meta':
        case 'body': {
          const take = Math.min(this.remaining, chunk.length - pos);
          const part = chunk.subarray(pos, pos + take);
          pos += take;
          this.remaining -= take;
          this.offset += take;
          if (this.state === 'meta') this.metaChunks.push(Buffer.from(part));
          else if (this.current?.kind === 'manifest') {
            this.manifestText!.hash.update(part);
            this.manifestText!.reader?.feed(part);
          } else {
            this.current!.hash!.update(part);
            const pending = this.sink?.data(part);
            if (pending) await pending;
          }
          if (this.remaining === 0) await this.onBodyEnd();
          break;
        }
        case 'padding': {
          const take = Math.min(this.padding, chunk.length - pos);
          pos += take;
          this.padding -= take;
          this.offset += take;
          if (this.padding === 0) this.state = 'header';
          break;
        }
        case 'end': {
          for (let i = pos; i < chunk.length; i++) {
            if (chunk[i] !== 0) throw this.refuse('unexpected data after the end-of-archive marker');
          }
          this.trailerBytes += chunk.length - pos;
          if (this.trailerBytes > MAX_TRAILER_BYTES) throw this.refuse('too much padding after the end-of-archive marker');
          pos = chunk.length;
          break;
        }
      }
    }
  }

  private onHeader(): void {
    if (isZeroBlock(this.block)) {
      this.zeroBlocks++;
      if (this.sawExtended) throw this.refuse('an extended header is not followed by an entry');
      if (this.zeroBlocks === 2) this.state = 'end';
      return;
    }
    if (this.zeroBlocks > 0) throw this.refuse(`unexpected zero block at offset ${this.offset - BLOCK}`);
    let h: RawHeader;
    try {
      h = parseHeader(this.block);
    } catch (err) {
      throw this.refuse(`corrupt tar header at offset ${this.offset}: ${(err as HeaderError).message}`);
    }
    if (h.type === 'x' || h.type === 'L' || h.type === 'K') {
      if (h.size > MAX_META_BYTES) throw this.refuse(`an extended header of ${h.size} bytes at offset ${this.offset} is too large`);
      if (this.metaSeen.has(h.type)) throw this.refuse(`two extended headers of type ${h.type} for one entry at offset ${this.offset}`);
      this.metaSeen.add(h.type);
      this.sawExtended = true;
      this.metaType = h.type;
      this.metaChunks = [];
      this.startBody(h.size, 'meta');
      return;
    }
    this.onEntry(h);
  }

  private startBody(size: number, state: 'meta' | 'body'): void {
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = size === 0 ? (this.padding ? 'padding' : 'header') : state;
  }

  private decodeUtf8(bytes: Buffer, what: string): string {
    try {
      return utf8.decode(bytes);
    } catch {
      throw this.refuse(`${what} at offset ${this.offset} is not valid UTF-8`);
    }
  }

  /**
   * A pax `path`/`linkpath` is UTF-8 unless the header says `hdrcharset=BINARY` (how GNU tar,
   * Python and our writer record a name that is not UTF-8); then it is raw bytes.
   */
  private decodePaxName(records: Map<string, Buffer>, key: string): string | undefined {
    const value = records.get(key);
    if (value === undefined) return undefined;
    const charset = records.get('hdrcharset')?.toString('latin1');
    if (charset === 'BINARY') return decodeName(value);
    if (charset !== undefined && charset !== 'ISO-IR 10646 2000 UTF-8')
      throw this.refuse(`unknown pax hdrcharset ${JSON.stringify(charset)} before offset ${this.offset}`);
    return this.decodeUtf8(value, `a pax ${key}`);
  }

  private onMetaEnd(): void {
    const body = Buffer.concat(this.metaChunks);
    this.metaChunks = [];
    if (this.metaType === 'x') {
      let records: Map<string, Buffer>;
      try {
        records = parsePax(body);
      } catch (err) {
        throw this.refuse(`corrupt pax header before offset ${this.offset}: ${(err as Error).message}`);
      }
      this.paxPath = this.decodePaxName(records, 'path');
      const size = records.get('size');
      if (size) {
        const text = size.toString('latin1');
        if (!/^[0-9]{1,16}$/.test(text) || Number(text) > Number.MAX_SAFE_INTEGER)
          throw this.refuse(`invalid pax size ${JSON.stringify(text)}`);
        this.paxSize = Number(text);
      }
      this.paxLinkpath = this.decodePaxName(records, 'linkpath');
    } else {
      const nul = body.indexOf(0);
      // GNU long names carry no charset: bytes, kept exactly (entry-name.ts).
      const text = decodeName(nul === -1 ? body : body.subarray(0, nul));
      if (this.metaType === 'L') this.gnuName = text;
      else this.paxLinkpath = text;
    }
  }

  /** Classify the entry whose header block this is; refuse it or start reading it. */
  private onEntry(h: RawHeader): void {
    const verdict = classifyEntry(this.takeEntryHeaders(h), {
      listed: this.manifest ? { files: this.manifest.files, dirs: this.manifest.dirs } : undefined,
      seen: this.seen,
    });
    if (verdict.kind === 'refused') throw this.refuse(verdict.reason);
    this.startEntry(verdict);
  }

  /** The entry's headers with the extended headers before it applied, which then no longer apply. */
  private takeEntryHeaders(h: RawHeader): EntryHeaders {
    const headers: EntryHeaders = {
      name: this.gnuName ?? this.paxPath ?? decodeName(h.name),
      linkTarget: this.paxLinkpath ?? decodeName(h.linkname),
      type: h.type,
      ustarSize: h.size,
      paxSize: this.paxSize,
    };
    this.gnuName = this.paxPath = this.paxSize = this.paxLinkpath = undefined;
    this.sawExtended = false;
    this.metaSeen.clear();
    this.metaType = '';
    return headers;
  }

  /** Act on an accepted entry: remember it, tell the sink, and read its body. */
  private startEntry(verdict: Exclude<EntryVerdict, { kind: 'refused' }>): void {
    switch (verdict.kind) {
      case 'manifest':
        this.current = { kind: 'manifest', name: MANIFEST_NAME };
        // A manifest a preflight already validated is only hashed, not parsed again.
        this.manifestText = { reader: this.known ? undefined : new ManifestReader(this.source), hash: createHash('sha256') };
        this.startBody(verdict.size, 'body');
        return;
      case 'directory':
        this.seen.markDir(verdict.name);
        this.sink?.directory(verdict.dir);
        this.startBody(0, 'body');
        return;
      case 'file': {
        const { name, file } = verdict;
        this.seen.markFile(name);
        this.current = { kind: 'file', name, file, hash: createHash('sha256') };
        this.sink?.openFile(file);
        this.startBody(file.size, 'body');
        if (file.size === 0) this.endFile();
        return;
      }
    }
  }

  private async onBodyEnd(): Promise<void> {
    this.state = this.padding ? 'padding' : 'header';
    if (this.metaType !== '' && this.current === undefined) return this.onMetaEnd();
    if (this.current?.kind === 'manifest') {
      const { reader, hash } = this.manifestText!;
      this.manifestText = undefined;
      this.current = undefined;
      this.manifestDigest = hash.digest('hex');
      let m: Manifest;
      if (this.known) {
        if (this.known.digest !== this.manifestDigest) throw this.refuse(`${MANIFEST_NAME} changed since it was first read`);
        m = this.known.manifest;
      } else {
        m = reader!.end();
        checkManifestPaths(m, this.source);
      }
      this.seen.listed(m);
      this.manifest = m;
      await this.sink?.manifest?.(m);
      if (!this.sink) throw new StopAfterManifest();
      return;
    }
    this.endFile();
  }

  private endFile(): void {
    const { name, file, hash } = this.current!;
    this.current = undefined;
    const digest = hash!.digest('hex');
    if (digest !== file!.sha256) throw this.refuse(`entry ${JSON.stringify(name)} does not match its SHA-256 in ${MANIFEST_NAME}`);
    this.sink?.closeFile(file!);
  }
}

/** Passes bytes through while hashing and counting them. */
class HashingTap extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  /** The first bytes, to tell an age file from a gzip one in a message. */
  head = Buffer.alloc(0);
  constructor(private readonly onBytes?: (bytes: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.bytes === 0) this.head = Buffer.from(chunk.subarray(0, 64));
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

function gzipError(source: string, err: Error, head: Buffer): HozironError {
  if (startsLikeAge(head))
    return new HozironError(
      'archive_invalid',
      `${source}: the archive is age-encrypted but its name does not end in .age`,
      'rename it to end in .tar.gz.age',
    );
  const msg = err.message;
  if (/unexpected end of file/i.test(msg))
    return new HozironError('archive_invalid', `${source}: the archive is truncated (the gzip stream ends early)`);
  return new HozironError('archive_invalid', `${source}: the archive is corrupt (gzip: ${msg})`);
}

async function runReader(
  archivePath: string,
  sink: EntrySink | undefined,
  onBytes?: (n: number) => void,
  known?: KnownManifest,
  identities?: readonly Identity[],
): Promise<ReadResult & { manifestDigest: string }> {
  const source = archivePath;
  let size: number;
  try {
    const st = await fs.stat(archivePath);
    if (!st.isFile()) throw new HozironError('archive_invalid', `${source} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new HozironError('not_found', `no archive at ${source}`);
    throw err;
  }
  const decrypter = isAgeName(archivePath) ? new AgeDecrypter(requireIdentities(source, identities), source) : undefined;
  const tap = new HashingTap(onBytes);
  // Each stream starts with a read buffer and an output buffer of its own: no larger than a
  // small archive needs (`list` reads thousands of them), counted toward the next collection.
  const readChunk = Math.min(READ_CHUNK, Math.max(16 * 1024, size));
  const gunzipChunk = Math.min(GUNZIP_CHUNK, Math.max(16 * 1024, size * 4));
  noteAllocated(readChunk + gunzipChunk);
  const gunzip = createGunzip({ chunkSize: gunzipChunk });
  const parser = new StrictTarParser(source, sink, known);
  gunzip.on('error', () => undefined);
  try {
    const input = createReadStream(archivePath, { highWaterMark: readChunk });
    if (decrypter) await pipeline(input, tap, decrypter, gunzip, parser);
    else await pipeline(input, tap, gunzip, parser);
  } catch (err) {
    if (err instanceof StopAfterManifest) return { manifest: parser.manifest!, sha256: '', manifestDigest: parser.manifestDigest };
    if (err instanceof HozironError) throw err;
    if (errnoCode(err)?.startsWith('Z_')) throw gzipError(source, err as Error, tap.head);
    throw err;
  }
  // zlib silently ignores zero bytes after the last gzip member; bytesWritten says how much it used.
  if (gunzip.bytesWritten !== (decrypter ? decrypter.plainBytes : tap.bytes)) {
    throw new HozironError('archive_invalid', `${source}: unexpected data after the end of the gzip stream`);
  }
  return { manifest: parser.manifest!, sha256: tap.hash.digest('hex'), manifestDigest: parser.manifestDigest };
}

function requireIdentities(source: string, identities: readonly Identity[] | undefined): readonly Identity[] {
  if (identities && identities.length > 0) return identities;
  throw new HozironError('identity_required', `${source} is encrypted and no identity was given to decrypt it`, undefined, {
    remedy: 'give_identity',
  });
}

/**
 * Read and check a whole archive, giving every entry to `sink`; resolves with the manifest
 * and the SHA-256 of the archive file (computed in the same pass). An encrypted archive
 * (`….age`) needs `identities`.
 */
export async function readArchive(
  archivePath: string,
  sink: EntrySink,
  onBytes?: (bytesRead: number) => void,
  known?: KnownManifest,
  identities?: readonly Identity[],
): Promise<ReadResult> {
  const { manifest, sha256 } = await runReader(archivePath, sink, onBytes, known, identities);
  return { manifest, sha256 };
}

/** The manifest of an archive: reads only the first entry (fast on any size of archive). */
export async function readManifest(archivePath: string, identities?: readonly Identity[]): Promise<Manifest> {
  return (await readManifestEntry(archivePath, identities)).manifest;
}

/** `readManifest` plus the SHA-256 of the manifest text (for `readArchive`'s `known`). */
export async function readManifestEntry(archivePath: string, identities?: readonly Identity[]): Promise<KnownManifest> {
  const r = await runReader(archivePath, undefined, undefined, undefined, identities);
  return { manifest: r.manifest, digest: r.manifestDigest };
}
