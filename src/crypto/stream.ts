/**
 * The STREAM construction of age's payload (c2sp.org/age#payload, c2sp.org/agead) on Node's
 * native AEADs: the plaintext is cut into 64 KiB chunks, each sealed under one key with the
 * 12-byte nonce `11-byte big-endian chunk counter ‖ last-chunk flag` (0x01 on the final
 * chunk only). A reordered, dropped, repeated or truncated chunk fails authentication, and so
 * does anything appended after the final chunk. The final chunk may be a full 64 KiB but is
 * empty only when the whole plaintext is.
 *
 * Invariant: plaintext leaves `StreamOpener` only after its chunk's tag verified. A sealer or
 * opener may start at any chunk counter: the archive writer seals the body (chunks after the
 * manifest's reserved region) as it is produced and the region's chunks last.
 */
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { HozironError } from '../errors.js';

export const CHUNK = 64 * 1024;
const TAG = 16;
export const SEALED_CHUNK = CHUNK + TAG;
/** 2^40 chunks (64 PiB) is far beyond any archive; past it the counter would need all 11 bytes. */
const MAX_CHUNKS = 2 ** 40;

export type StreamAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm';

/** Both AEADs take the same calls; @types/node types only the GCM overload with a tag length. */
function gcmName(algorithm: StreamAlgorithm): CipherGCMTypes {
  return algorithm as CipherGCMTypes;
}

function nonceFor(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6); // bytes 0..4 stay zero: the counter never reaches 2^48
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Collects buffers and hands out exact-length slices without copying when it can. */
class Pending {
  private parts: Buffer[] = [];
  length = 0;

  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.parts.push(buf);
    this.length += buf.length;
  }

  take(n: number): Buffer {
    const first = this.parts[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const part = this.parts[0]!;
        const used = Math.min(part.length, n - filled);
        part.copy(out, filled, 0, used);
        filled += used;
        if (used === part.length) this.parts.shift();
        else this.parts[0] = part.subarray(used);
      }
    }
    this.length -= n;
    return out;
  }

  takeAll(): Buffer {
    return this.length === 0 ? Buffer.alloc(0) : this.take(this.length);
  }
}

/** Seals plaintext into STREAM chunks; `update` returns whole sealed chunks as they complete. */
export class StreamSealer {
  private readonly pending = new Pending();
  private done = false;

  /** `counter`: the first chunk's number (a writer may seal a later part of the payload first). */
  constructor(
    private readonly key: Buffer,
    private readonly algorithm: StreamAlgorithm = 'chacha20-poly1305',
    private counter = 0,
  ) {}

  private seal(plain: Buffer, last: boolean, out: Buffer, at: number): number {
    if (this.counter >= MAX_CHUNKS) throw new HozironError('internal', 'the encrypted stream is too long');
    const cipher = createCipheriv(gcmName(this.algorithm), this.key, nonceFor(this.counter++, last), { authTagLength: TAG });
    let n = cipher.update(plain).copy(out, at);
    n += cipher.final().copy(out, at + n);
    n += cipher.getAuthTag().copy(out, at + n);
    return n;
  }

  /**
   * Plaintext in, sealed chunks out. A chunk is sealed only once a byte beyond it is known,
   * since a full chunk at the very end must carry the last-chunk flag.
   */
  update(plain: Buffer): Buffer {
    this.pending.push(plain);
    const chunks = Math.max(0, Math.ceil(this.pending.length / CHUNK) - 1);
    if (chunks === 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(chunks * SEALED_CHUNK);
    let at = 0;
    for (let i = 0; i < chunks; i++) at += this.seal(this.pending.take(CHUNK), false, out, at);
    return out;
  }

  /**
   * Seal `plain`, a whole number of chunks, as non-final chunks: the leading part of a payload
   * whose rest another sealer (started at a later counter) seals.
   */
  sealChunks(plain: Buffer): Buffer {
    if (plain.length % CHUNK !== 0 || this.pending.length > 0) throw new HozironError('internal', 'sealChunks needs whole chunks');
    const out = Buffer.allocUnsafe((plain.length / CHUNK) * SEALED_CHUNK);
    let at = 0;
    for (let o = 0; o < plain.length; o += CHUNK) at += this.seal(plain.subarray(o, o + CHUNK), false, out, at);
    return out;
  }

  /** The final chunk (possibly a full one; empty only if nothing at all was sealed). */
  final(): Buffer {
    if (this.done) throw new HozironError('internal', 'StreamSealer.final called twice');
    this.done = true;
    const plain = this.pending.takeAll();
    const out = Buffer.allocUnsafe(plain.length + TAG);
    const n = this.seal(plain, true, out, 0);
    return out.subarray(0, n);
  }
}

/** Why a stream could not be opened; the caller adds the file's name. */
export class StreamError extends Error {}

/** Opens STREAM chunks; plaintext is returned only for chunks whose tag verified. */
export class StreamOpener {
  private readonly pending = new Pending();
  private finished = false;

  constructor(
    private readonly key: Buffer,
    private readonly algorithm: StreamAlgorithm = 'chacha20-poly1305',
    private counter = 0,
  ) {}

  private open(sealed: Buffer, last: boolean): Buffer {
    const decipher = createDecipheriv(gcmName(this.algorithm), this.key, nonceFor(this.counter, last), { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const body = decipher.update(sealed.subarray(0, sealed.length - TAG));
    try {
      decipher.final();
    } catch {
      throw new StreamError(
        last
          ? `chunk ${this.counter} does not authenticate as the final chunk (the file is truncated, damaged, or has data appended)`
          : `chunk ${this.counter} does not authenticate (the file is damaged)`,
      );
    }
    this.counter++;
    return body;
  }

  /** Sealed bytes in, verified plaintext out (a chunk is opened once a byte beyond it arrived). */
  update(sealed: Buffer): Buffer {
    if (this.finished) throw new StreamError('data after the final chunk');
    this.pending.push(sealed);
    const chunks = Math.max(0, Math.ceil(this.pending.length / SEALED_CHUNK) - 1);
    if (chunks === 0) return Buffer.alloc(0);
    const out: Buffer[] = [];
    for (let i = 0; i < chunks; i++) out.push(this.open(this.pending.take(SEALED_CHUNK), false));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The final chunk; refuses a stream that ends without one. */
  final(): Buffer {
    this.finished = true;
    const rest = this.pending.takeAll();
    if (rest.length < TAG) throw new StreamError(`the payload is truncated (it ends inside chunk ${this.counter})`);
    if (rest.length === TAG && this.counter > 0)
      throw new StreamError(`chunk ${this.counter} is an empty final chunk, which the format does not allow`);
    return this.open(rest, true);
  }
}
