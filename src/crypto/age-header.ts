/**
 * The age v1 header (c2sp.org/age#header): version line, recipient stanzas, MAC. Encoding
 * and a strict parser that refuses anything outside the ABNF (non-canonical base64, long
 * lines, missing MAC), plus the X25519 stanza: wrap key = HKDF-SHA-256(ikm = X25519 shared
 * secret, salt = ephemeral share ‖ recipient, info "age-encryption.org/v1/X25519"), body =
 * ChaCha20-Poly1305(wrap key, zero nonce, file key). The header MAC is HMAC-SHA-256 under
 * HKDF(file key, empty salt, "header") over the header up to and including `---`.
 * Other stanza types (scrypt, plugins) are parsed and skipped, as the spec requires.
 */
import { createCipheriv, createDecipheriv, createHmac, diffieHellman, generateKeyPairSync, hkdfSync, timingSafeEqual } from 'node:crypto';
import { publicKeyObject, type Identity, type Recipient } from './keys.js';

const VERSION_LINE = 'age-encryption.org/v1';
export const AGE_MAGIC = Buffer.from(`${VERSION_LINE}\n`);
const X25519_INFO = 'age-encryption.org/v1/X25519';
const ZERO_NONCE = Buffer.alloc(12);
/** A header larger than this is refused (hundreds of recipients fit in a few KiB). */
const MAX_HEADER = 1024 * 1024;

interface Stanza {
  args: string[];
  body: Buffer;
}

export interface ParsedHeader {
  stanzas: Stanza[];
  mac: Buffer;
  /** The header bytes the MAC covers: from the version line through `---`. */
  macInput: Buffer;
  /** Length of the whole header, including the MAC line. */
  length: number;
}

/** Why a header is refused; the caller adds the file's name. */
export class HeaderError extends Error {}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

function fromB64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) throw new HeaderError(`${what} is not base64`);
  const buf = Buffer.from(text, 'base64');
  if (b64(buf) !== text) throw new HeaderError(`${what} is not canonical base64`);
  return buf;
}

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

function headerMac(fileKey: Buffer, macInput: Buffer): Buffer {
  return createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
    .update(macInput)
    .digest();
}

function aead(key: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function unaead(key: Buffer, sealed: Buffer): Buffer | undefined {
  const d = createDecipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = d.update(sealed.subarray(0, sealed.length - 16));
  try {
    d.final();
    return plain;
  } catch {
    return undefined;
  }
}

/** The X25519 stanza that wraps `fileKey` for `recipient`, with a fresh ephemeral key. */
function wrapX25519(fileKey: Buffer, recipient: Recipient): Stanza {
  const eph = generateKeyPairSync('x25519');
  const share = eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyObject(recipient.publicKey) });
  const wrapKey = hkdf(shared, Buffer.concat([share, recipient.publicKey]), X25519_INFO);
  return { args: ['X25519', b64(share)], body: aead(wrapKey, fileKey) };
}

/** The file key from an X25519 stanza if `identity` opens it; undefined if not addressed to it. */
function unwrapX25519(stanza: Stanza, identity: Identity): Buffer | undefined {
  if (stanza.args[0] !== 'X25519') return undefined;
  if (stanza.args.length !== 2) throw new HeaderError('an X25519 stanza does not have exactly two arguments');
  const share = fromB64(stanza.args[1]!, 'an X25519 ephemeral share');
  if (share.length !== 32) throw new HeaderError('an X25519 ephemeral share is not 32 bytes');
  if (stanza.body.length !== 32) throw new HeaderError('an X25519 stanza body is not 32 bytes');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: identity.privateKey, publicKey: publicKeyObject(share) });
  } catch {
    throw new HeaderError('an X25519 ephemeral share is a low-order point');
  }
  if (shared.every((b) => b === 0)) throw new HeaderError('an X25519 ephemeral share is a low-order point');
  const wrapKey = hkdf(shared, Buffer.concat([share, identity.publicKey]), X25519_INFO);
  return unaead(wrapKey, stanza.body);
}

function encodeStanza(s: Stanza): string {
  const body = b64(s.body);
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += 64) lines.push(body.slice(i, i + 64));
  // The body ends with a line shorter than 64 columns, which may be empty.
  if (body.length % 64 === 0) lines.push('');
  return `-> ${s.args.join(' ')}\n${lines.join('\n')}\n`;
}

/** The header that gives `fileKey` to each recipient. */
export function encodeHeader(fileKey: Buffer, recipients: readonly Recipient[]): Buffer {
  const text = `${VERSION_LINE}\n${recipients.map((r) => encodeStanza(wrapX25519(fileKey, r))).join('')}---`;
  const macInput = Buffer.from(text);
  return Buffer.concat([macInput, Buffer.from(` ${b64(headerMac(fileKey, macInput))}\n`)]);
}

const VCHAR_ARG = /^[\x21-\x7e]+$/;

/**
 * Parse the header at the start of `buf`. Returns undefined if `buf` ends before the header
 * does (read more); throws `HeaderError` for anything that is not a v1 header, or for a
 * header that has not ended within `MAX_HEADER` bytes (so a caller never buffers more).
 */
export function parseHeader(buf: Buffer): ParsedHeader | undefined {
  const header = parseHeaderPrefix(buf);
  if (!header && buf.length > MAX_HEADER) throw new HeaderError('the header is too large');
  return header;
}

function parseHeaderPrefix(buf: Buffer): ParsedHeader | undefined {
  let pos = 0;
  const line = (): string | undefined => {
    const nl = buf.indexOf(0x0a, pos);
    if (nl === -1) return undefined;
    const text = buf.toString('latin1', pos, nl);
    pos = nl + 1;
    return text;
  };
  const first = line();
  if (first === undefined) {
    if (!AGE_MAGIC.subarray(0, Math.min(buf.length, AGE_MAGIC.length)).equals(buf.subarray(0, AGE_MAGIC.length)))
      throw new HeaderError('it does not start with an age v1 header');
    return undefined;
  }
  if (first !== VERSION_LINE) {
    throw new HeaderError(
      first.startsWith('age-encryption.org/')
        ? 'it is a version of age this program does not read'
        : 'it does not start with an age v1 header',
    );
  }
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = pos;
    const l = line();
    if (l === undefined) return undefined;
    if (l.startsWith('---')) {
      const m = /^--- ([A-Za-z0-9+/]{43})$/.exec(l);
      if (!m) throw new HeaderError('the header MAC line is malformed');
      if (stanzas.length === 0) throw new HeaderError('the header has no recipient stanza');
      return { stanzas, mac: fromB64(m[1]!, 'the header MAC'), macInput: buf.subarray(0, start + 3), length: pos };
    }
    if (!l.startsWith('-> ')) throw new HeaderError('the header has a line that is neither a stanza nor the MAC');
    const args = l.slice(3).split(' ');
    if (args.some((a) => !VCHAR_ARG.test(a))) throw new HeaderError('a stanza has a malformed argument');
    let body = '';
    for (;;) {
      const b = line();
      if (b === undefined) return undefined;
      if (b.length > 64 || !/^[A-Za-z0-9+/]*$/.test(b)) throw new HeaderError('a stanza body line is malformed');
      body += b;
      if (b.length < 64) break;
    }
    stanzas.push({ args, body: fromB64(body, 'a stanza body') });
  }
}

export type Unwrapped = { fileKey: Buffer } | { failure: 'no_match' | 'bad_mac' };

/**
 * The file key, if one of `identities` opens a stanza and the header MAC verifies under it.
 * Stanzas that are not X25519 are skipped.
 */
export function unwrapFileKey(header: ParsedHeader, identities: readonly Identity[]): Unwrapped {
  for (const identity of identities) {
    for (const stanza of header.stanzas) {
      const fileKey = unwrapX25519(stanza, identity);
      if (!fileKey) continue;
      if (fileKey.length !== 16) throw new HeaderError('a stanza holds a file key of the wrong size');
      const expected = headerMac(fileKey, header.macInput);
      if (!timingSafeEqual(expected, header.mac)) return { failure: 'bad_mac' };
      return { fileKey };
    }
  }
  return { failure: 'no_match' };
}

/** The payload key: HKDF-SHA-256(ikm = file key, salt = payload nonce, info "payload"). */
export function payloadKey(fileKey: Buffer, nonce: Buffer): Buffer {
  return hkdf(fileKey, nonce, 'payload');
}
