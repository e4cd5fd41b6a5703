/**
 * `ArchiveWriter`: the streaming tar.gz writer (format version 1, docs/format.md).
 *
 * MANIFEST.json must be the first entry, but it holds every file's SHA-256, which is only
 * known once every file has been read. Rather than read the home twice, the writer streams
 * every entry after the manifest (and the end-of-archive blocks) through the parallel gzip
 * compressor into a temporary *body* file, hashing each entry's bytes as they flow. Tar
 * headers are encoded by our own ustar/pax encoder (`tar-header.ts`) and written straight
 * into the compressor: a pack stream per entry cost more main-thread time than reading the file.
 * `finish` then writes the final temporary archive as one gzip member holding only the
 * manifest's tar entry (no end blocks) followed by the body's bytes: concatenated
 * gzip members are one valid gzip stream, and the tar stream inside is MANIFEST.json, the
 * entries, the end blocks. The whole-archive SHA-256 is computed while that file is written,
 * so nothing is read back afterwards. Memory stays flat: a few MiB of chunks in flight.
 *
 * Encrypted (recipients given, docs/format.md#encryption): the body is sealed on its way to
 * the temporary file under a key that exists only in memory (`ScratchCipher`), and `finish`
 * streams age header → payload of [manifest member ‖ opened body] (`encryptAge`), so not one
 * plaintext archive byte reaches the disk; the SHA-256 is then of the encrypted file.
 *
 * Crash safety: everything lives under temporary names (`.hoziron-tmp-<pid>-<hex>.*`) in
 * the target's directory until `commit`, which renames the fsynced archive into place and
 * fsyncs the directory. A process killed at any line leaves at most temporary files, which
 * the next backup command removes (`removeLeftovers`); never a partial archive under a real
 * name. Entries carry exactly the bytes that were hashed, so an entry can never disagree
 * with its manifest line.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { basename, dirname } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ScratchCipher, encryptAge } from '../crypto/age.js';
import type { Recipient } from '../crypto/keys.js';
import { HozironError } from '../errors.js';
import { fsyncDir } from '../fsutil/durable.js';
import { tempPathIn } from '../fsutil/temp.js';
import { displayName, encodeName, manifestNameReplacer } from './entry-name.js';
import { ParallelGzip } from './gzip.js';
import { MANIFEST_NAME, type Manifest, type ManifestDocument, type ManifestFile } from './manifest.js';
import { BLOCK, encodeHeader } from './tar-header.js';

const ZEROS = Buffer.alloc(2 * BLOCK);

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? ZEROS.subarray(0, 0) : ZEROS.subarray(0, BLOCK - rest);
}

const gzip = promisify(zlib.gzip) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

export interface EntryMeta {
  mode: number;
  mtime: Date;
}

export interface FinishedArchive {
  size: number;
  sha256: string;
  /** The file's mtime; `commit` links the same inode into place, so it stays. */
  mtimeMs: number;
}

export class ArchiveWriter {
  private readonly gz = new ParallelGzip();
  private readonly written: Promise<void>;
  private finalPath: string | undefined;
  private closed = false;

  /** Set when encrypting: the body's ephemeral key. */
  private readonly scratch: ScratchCipher | undefined;

  private constructor(
    readonly target: string,
    private readonly bodyPath: string,
    private readonly recipients: readonly Recipient[],
  ) {
    const body = createWriteStream(bodyPath, { flags: 'wx', mode: 0o600 });
    this.scratch = recipients.length > 0 ? new ScratchCipher() : undefined;
    this.written = this.scratch ? pipeline(this.gz, this.scratch.sealer(), body) : pipeline(this.gz, body);
    // Failures surface through `guard` and `finish`; never as an unhandled rejection.
    this.written.catch(() => undefined);
  }

  /**
   * Start an archive that `commit` will place at `target` (its directory must exist);
   * encrypted to `recipients` when there are any.
   */
  static open(target: string, recipients: readonly Recipient[] = []): ArchiveWriter {
    return new ArchiveWriter(target, tempPathIn(dirname(target), 'body'), recipients);
  }

  /** Await `p`, but fail at once if the output pipeline has failed (e.g. disk full). */
  private async guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.written.then(() => new Promise<T>(() => undefined))]);
  }

  /** Hand bytes to the compressor, waiting only when its buffer is full. */
  private async put(buf: Buffer): Promise<void> {
    if (buf.length === 0) return;
    if (!this.gz.write(buf)) await this.guard(once(this.gz, 'drain'));
  }

  private header(path: string, meta: EntryMeta, type: 'file' | 'directory', size: number): Buffer {
    // As bytes: a name that is not UTF-8 goes into the archive exactly (pax hdrcharset=BINARY).
    return encodeHeader({ name: encodeName(path), type, size, mode: meta.mode & 0o777, mtime: meta.mtime });
  }

  async addDirectory(path: string, meta: EntryMeta): Promise<void> {
    await this.put(this.header(path, meta, 'directory', 0));
  }

  /** Add a file whose bytes are in memory; returns its manifest line. */
  async addBuffer(path: string, data: Buffer, meta: EntryMeta): Promise<ManifestFile> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const head = this.header(path, meta, 'file', data.length);
    if (data.length <= 64 * 1024) {
      await this.put(Buffer.concat([head, data, padding(data.length)]));
    } else {
      await this.put(head);
      await this.put(data);
      await this.put(padding(data.length));
    }
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
    await this.put(this.header(path, meta, 'file', size));
    let got = 0;
    for await (const raw of source) {
      const chunk = got + raw.length > size ? raw.subarray(0, size - got) : raw;
      got += chunk.length;
      hash.update(chunk);
      onBytes?.(chunk.length);
      await this.put(chunk);
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
    await this.put(padding(size));
    return { path, size, mode: meta.mode & 0o777, sha256: hash.digest('hex') };
  }

  /** The manifest's tar entry (header, JSON, padding) without end-of-archive blocks. */
  private static manifestTar(json: Buffer, mtime: Date): Buffer {
    const head = encodeHeader({ name: MANIFEST_NAME, type: 'file', size: json.length, mode: 0o600, mtime });
    return Buffer.concat([head, json, padding(json.length)]);
  }

  /**
   * Close the body and write the final temporary archive: the manifest member, then the
   * body. Returns its size and SHA-256; `commit` puts it in place.
   */
  async finish(manifest: Manifest | ManifestDocument): Promise<FinishedArchive> {
    await this.put(ZEROS); // end of archive: two zero blocks
    this.gz.end();
    await this.written;
    const json = Buffer.from(JSON.stringify(manifest, manifestNameReplacer));
    const head = await gzip(ArchiveWriter.manifestTar(json, new Date(manifest.created_at)), { level: 9 });
    this.finalPath = tempPathIn(dirname(this.target), 'tar.gz');
    const hash = createHash('sha256');
    let size = 0;
    const out = await fs.open(this.finalPath, 'wx', 0o600);
    try {
      // open() applies the umask; the archive holds secrets, so make it exactly 0600.
      await out.chmod(0o600);
      const writeAll = async (buf: Buffer) => {
        hash.update(buf);
        size += buf.length;
        await out.write(buf);
      };
      for await (const chunk of this.finalBytes(head)) await writeAll(chunk);
      // The archive must be durable before it is renamed into place.
      await out.sync();
    } finally {
      await out.close();
    }
    await fs.rm(this.bodyPath, { force: true });
    this.scratch?.destroy();
    const st = await fs.stat(this.finalPath);
    return { size, sha256: hash.digest('hex'), mtimeMs: st.mtimeMs };
  }

  /** The final file's bytes: the manifest member and the body, as an age file when encrypting. */
  private finalBytes(head: Buffer): AsyncIterable<Buffer> {
    const stored = createReadStream(this.bodyPath, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>;
    const scratch = this.scratch;
    if (!scratch)
      return (async function* () {
        yield head;
        yield* stored;
      })();
    const plain = (async function* () {
      yield head;
      yield* scratch.open(stored);
    })();
    return encryptAge(plain, this.recipients);
  }

  /** Rename the finished archive into place (never over an existing file) and fsync. */
  async commit(): Promise<void> {
    if (!this.finalPath) throw new HozironError('internal', 'ArchiveWriter.commit before finish');
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
    await this.written.catch(() => undefined);
    await fs.rm(this.bodyPath, { force: true });
    this.scratch?.destroy();
    if (this.finalPath) await fs.rm(this.finalPath, { force: true });
  }

  get name(): string {
    return basename(this.target);
  }
}
