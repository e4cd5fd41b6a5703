/**
 * The one face of encryption for the archive writer and reader: an age v1 file
 * (age-encryption.org/v1, X25519 recipients) whose plaintext is a format-1 tar.gz.
 *
 * - `encryptAge` turns a plaintext byte sequence into an age file (header, 16-byte nonce,
 *   STREAM payload) as it flows; nothing is buffered beyond one 64 KiB chunk.
 * - `AgeDecrypter` is the reverse as a Transform: it parses and authenticates the header
 *   (the file key must come from one of the identities and the header MAC must verify),
 *   then emits plaintext chunk by chunk, each only after its tag verified. A wrong identity,
 *   a damaged header, a damaged or missing chunk, or bytes after the final chunk are each
 *   one `HozironError` naming the file, never the key.
 * - `AgeFileWriter` writes an age file out of order: the archive writer seals its body as it
 *   is produced, after a region reserved for the manifest, and that region last.
 *
 * Invariant: no plaintext byte of an encrypted archive reaches a file through this module.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { HozironError } from '../errors.js';
import {
  AGE_MAGIC,
  HeaderError,
  checkStanzas,
  encodeHeader,
  parseHeader,
  payloadKey,
  unwrapFileKey,
  type ParsedHeader,
} from './age-header.js';
import type { Identity, Recipient } from './keys.js';
import { SEALED_CHUNK, StreamError, StreamOpener, StreamSealer } from './stream.js';

const NONCE = 16;
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** An encrypted archive's name ends in this (`….tar.gz.age`), and only an encrypted one's. */
const AGE_SUFFIX = '.age';

export function isAgeName(path: string): boolean {
  return path.endsWith(AGE_SUFFIX);
}

/** Whether the first bytes of a file are an age v1 header's. */
export function startsLikeAge(head: Buffer): boolean {
  return head.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC);
}

/** An age file of `plaintext` for `recipients` (at least one), produced as it is read. */
export async function* encryptAge(plaintext: AsyncIterable<Buffer>, recipients: readonly Recipient[]): AsyncGenerator<Buffer> {
  if (recipients.length === 0) throw new HozironError('internal', 'encryptAge without recipients');
  const fileKey = randomBytes(16);
  const nonce = randomBytes(NONCE);
  const sealer = new StreamSealer(payloadKey(fileKey, nonce));
  yield Buffer.concat([await encodeHeader(fileKey, recipients), nonce]);
  fileKey.fill(0);
  for await (const chunk of plaintext) {
    const sealed = sealer.update(chunk);
    if (sealed.length > 0) yield sealed;
  }
  yield sealer.final();
}

function headerRefusal(source: string, err: HeaderError, head: Buffer): HozironError {
  const plain = head.subarray(0, 2).equals(GZIP_MAGIC) ? ' (it is a plain gzip file, not encrypted)' : '';
  return new HozironError('archive_invalid', `${source}: not a valid age-encrypted archive: ${err.message}${plain}`);
}

/** age file in, verified plaintext out (see the module header). */
export class AgeDecrypter extends Transform {
  private head: Buffer[] = [];
  private headLength = 0;
  private opener: StreamOpener | undefined;
  /** Plaintext bytes emitted so far. */
  plainBytes = 0;

  constructor(
    private readonly identities: readonly Identity[],
    private readonly source: string,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  private fail(err: unknown): Error {
    if (err instanceof StreamError)
      return new HozironError('archive_invalid', `${this.source}: the encrypted payload is damaged: ${err.message}`);
    if (err instanceof HeaderError) return headerRefusal(this.source, err, Buffer.concat(this.head));
    return err as Error;
  }

  private emitPlain(plain: Buffer): void {
    if (plain.length === 0) return;
    this.plainBytes += plain.length;
    this.push(plain);
  }

  /** Read the header and nonce from what has arrived; resolves true once the payload starts. */
  private async startPayload(): Promise<boolean> {
    const buf = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
    this.head = [buf];
    const header = parseHeader(buf);
    if (!header || buf.length < header.length + NONCE) return false;
    const fileKey = await this.fileKey(header);
    const nonce = buf.subarray(header.length, header.length + NONCE);
    this.opener = new StreamOpener(payloadKey(fileKey, nonce));
    fileKey.fill(0);
    this.head = [];
    this.emitPlain(this.opener.update(buf.subarray(header.length + NONCE)));
    return true;
  }

  private async fileKey(header: ParsedHeader): Promise<Buffer> {
    const result = await unwrapFileKey(header, this.identities);
    if ('fileKey' in result) return result.fileKey;
    switch (result.failure) {
      case 'bad_mac':
        throw new HozironError('archive_invalid', `${this.source}: the age header is damaged (its MAC does not verify)`);
      case 'wrong_passphrase':
        throw new HozironError(
          'identity_mismatch',
          `${this.source}: the passphrase given does not decrypt it (a wrong passphrase, or its header is damaged)`,
        );
      case 'needs_passphrase':
        throw new HozironError('identity_required', `${this.source} is encrypted with a passphrase and none was given`, undefined, {
          remedy: 'give_passphrase',
        });
      case 'needs_identity':
        throw new HozironError(
          'identity_required',
          `${this.source} is encrypted to age recipients, not with a passphrase: it needs an identity file`,
          undefined,
          { remedy: 'give_identity' },
        );
      default:
        throw new HozironError(
          'identity_mismatch',
          `${this.source}: no identity given can decrypt it (it was encrypted to other recipients, or its header is damaged)`,
          'use the identity file of one of the recipients the archive was encrypted to',
        );
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (this.opener) {
        this.emitPlain(this.opener.update(chunk));
        cb();
        return;
      }
    } catch (err) {
      cb(this.fail(err));
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.length;
    this.startPayload().then(
      () => cb(),
      (err: unknown) => cb(this.fail(err)),
    );
  }

  override _flush(cb: TransformCallback): void {
    const finish = async () => {
      if (!this.opener && !(await this.startPayload())) {
        const empty = this.headLength === 0;
        throw new HozironError(
          'archive_invalid',
          `${this.source}: not a valid age-encrypted archive: ${empty ? 'the file is empty' : 'it ends inside the age header'}`,
        );
      }
      this.emitPlain(this.opener!.final());
    };
    finish().then(
      () => cb(),
      (err: unknown) => cb(this.fail(err)),
    );
  }
}

export interface AgeHeaderSummary {
  /** Recipient stanzas by type, e.g. { X25519: 2 }. */
  stanzas: Record<string, number>;
}

/**
 * Check the structure of an age file's header without any key (the MAC needs the file key,
 * so it is not checked): what a verify without an identity can say.
 */
export async function inspectAgeHeader(path: string): Promise<AgeHeaderSummary> {
  const handle = await fs.open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      length += bytesRead;
      let header: ParsedHeader | undefined;
      try {
        header = parseHeader(buf.subarray(0, length));
      } catch (err) {
        if (err instanceof HeaderError) throw headerRefusal(path, err, buf.subarray(0, length));
        throw err;
      }
      if (header) {
        try {
          checkStanzas(header);
        } catch (err) {
          if (err instanceof HeaderError) throw headerRefusal(path, err, buf.subarray(0, length));
          throw err;
        }
        const stanzas: Record<string, number> = {};
        for (const s of header.stanzas) stanzas[s.args[0]!] = (stanzas[s.args[0]!] ?? 0) + 1;
        return { stanzas };
      }
      if (bytesRead === 0 || length === buf.length)
        throw new HozironError('archive_invalid', `${path}: not a valid age-encrypted archive: it ends inside the age header`);
    }
  } finally {
    await handle.close();
  }
}

/**
 * A new age file for `recipients`, written out of order: its prefix (header ‖ nonce) is fixed
 * now, and any stretch of the payload can be sealed at its chunk counter and placed at its
 * offset (`offsetOf`). The archive writer seals the body as it is produced, after a region
 * reserved for the manifest, and seals that region last; no plaintext is ever written.
 */
export class AgeFileWriter {
  readonly prefix: Buffer;
  private readonly key: Buffer;

  private constructor(prefix: Buffer, key: Buffer) {
    this.prefix = prefix;
    this.key = key;
  }

  /** A new file key wrapped to `recipients` (a passphrase's scrypt runs on the thread pool). */
  static async create(recipients: readonly Recipient[]): Promise<AgeFileWriter> {
    if (recipients.length === 0) throw new HozironError('internal', 'AgeFileWriter without recipients');
    const fileKey = randomBytes(16);
    const nonce = randomBytes(NONCE);
    try {
      return new AgeFileWriter(Buffer.concat([await encodeHeader(fileKey, recipients), nonce]), payloadKey(fileKey, nonce));
    } finally {
      fileKey.fill(0);
    }
  }

  /** A sealer of the payload from plaintext chunk `counter` on. */
  sealerAt(counter: number): StreamSealer {
    return new StreamSealer(this.key, 'chacha20-poly1305', counter);
  }

  /** An opener of this file's own payload from chunk `counter` on. */
  openerAt(counter: number): StreamOpener {
    return new StreamOpener(this.key, 'chacha20-poly1305', counter);
  }

  /** Where plaintext chunk `counter` lies in the file. */
  offsetOf(counter: number): number {
    return this.prefix.length + counter * SEALED_CHUNK;
  }

  /** Forget the payload key. */
  destroy(): void {
    this.key.fill(0);
  }
}
