/**
 * The age v1 header (c2sp.org/age#header): version line, recipient stanzas, MAC. Encoding
 * and a strict parser that refuses anything outside the ABNF (non-canonical base64, long
 * lines, missing MAC), plus the X25519 stanza: wrap key = HKDF-SHA-256(ikm = X25519 shared
 * secret, salt = ephemeral share ‖ recipient, info "age-encryption.org/v1/X25519"), body =
 * ChaCha20-Poly1305(wrap key, zero nonce, file key). The header MAC is HMAC-SHA-256 under
 * HKDF(file key, empty salt, "header") over the header up to and including `---`.
 * The scrypt stanza (a passphrase, `age -p`) is in passphrase.ts; it must be the only stanza
 * of its header. Other stanza types (plugins) are parsed and skipped, as the spec requires.
 */
import { createCipheriv, createDecipheriv, createHmac, diffieHellman, generateKeyPairSync, hkdfSync, timingSafeEqual } from 'node:crypto';
import { publicKeyObject, type Identity, type Recipient, type X25519Identity, type X25519Recipient } from './keys.js';
import { DEFAULT_LOG_N, newScryptSalt, parseScryptArgs, scryptWrapKey, ScryptStanzaError, type Passphrase } from './passphrase.js';

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
function wrapX25519(fileKey: Buffer, recipient: X25519Recipient): Stanza {
  const eph = generateKeyPairSync('x25519');
  const share = eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyObject(recipient.publicKey) });
  const wrapKey = hkdf(shared, Buffer.concat([share, recipient.publicKey]), X25519_INFO);
  return { args: ['X25519', b64(share)], body: aead(wrapKey, fileKey) };
}

/** The file key from an X25519 stanza if `identity` opens it; undefined if not addressed to it. */
function unwrapX25519(stanza: Stanza, identity: X25519Identity): Buffer | undefined {
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

/** The scrypt stanza that wraps `fileKey` under `passphrase`, with a fresh salt. */
async function wrapScrypt(fileKey: Buffer, passphrase: Passphrase): Promise<Stanza> {
  const salt = newScryptSalt();
  const wrapKey = await scryptWrapKey(passphrase, salt, DEFAULT_LOG_N);
  return { args: ['scrypt', b64(salt), String(DEFAULT_LOG_N)], body: aead(wrapKey, fileKey) };
}

/** The salt and work factor of a header's scrypt stanza, if it has one; refuses one that breaks age's rules. */
function scryptStanza(header: ParsedHeader): { stanza: Stanza; salt: Buffer; logN: number } | undefined {
  const stanza = header.stanzas.find((s) => s.args[0] === 'scrypt');
  if (!stanza) return undefined;
  if (header.stanzas.length !== 1) throw new HeaderError('an scrypt (passphrase) stanza is not the only stanza of the header');
  try {
    const { salt, logN } = parseScryptArgs(stanza.args.slice(1), (text) => fromB64(text, 'an scrypt stanza salt'));
    if (stanza.body.length !== 32) throw new HeaderError('an scrypt stanza body is not 32 bytes');
    return { stanza, salt, logN };
  } catch (err) {
    if (err instanceof ScryptStanzaError) throw new HeaderError(err.message);
    throw err;
  }
}

/** Check a header's stanzas without any key: what a verify without an identity can refuse. */
export function checkStanzas(header: ParsedHeader): void {
  scryptStanza(header);
}

function encodeStanza(s: Stanza): string {
  const body = b64(s.body);
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += 64) lines.push(body.slice(i, i + 64));
  // The body ends with a line shorter than 64 columns, which may be empty.
  if (body.length % 64 === 0) lines.push('');
  return `-> ${s.args.join(' ')}\n${lines.join('\n')}\n`;
}

/** The header that gives `fileKey` to each recipient (a passphrase only alone, as age requires). */
export async function encodeHeader(fileKey: Buffer, recipients: readonly Recipient[]): Promise<Buffer> {
  const only = recipients[0];
  let stanzas: Stanza[];
  if (only?.type === 'scrypt') {
    if (recipients.length !== 1) throw new Error('a passphrase must be the only recipient of an age file');
    stanzas = [await wrapScrypt(fileKey, only.passphrase)];
  } else {
    stanzas = recipients.map((r) => {
      if (r.type === 'scrypt') throw new Error('a passphrase must be the only recipient of an age file');
      return wrapX25519(fileKey, r);
    });
  }
  const text = `${VERSION_LINE}\n${stanzas.map(encodeStanza).join('')}---`;
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

/**
 * Why no file key came out: no identity matched (`no_match`), the MAC failed (`bad_mac`), the
 * passphrase did not open the scrypt stanza (`wrong_passphrase`), or the kinds differ: a
 * passphrase file and only X25519 identities (`needs_passphrase`), or the reverse (`needs_identity`).
 */
type UnwrapFailure = 'no_match' | 'bad_mac' | 'wrong_passphrase' | 'needs_passphrase' | 'needs_identity';
export type Unwrapped = { fileKey: Buffer } | { failure: UnwrapFailure };

/**
 * The file key, if one of `identities` opens a stanza and the header MAC verifies under it.
 * An scrypt stanza is opened only by a passphrase, and only when it is the header's one
 * stanza; other stanza types are skipped.
 */
export async function unwrapFileKey(header: ParsedHeader, identities: readonly Identity[]): Promise<Unwrapped> {
  const scrypt = scryptStanza(header);
  const passphrases = identities.filter((i) => i.type === 'scrypt');
  if (scrypt && passphrases.length === 0) return { failure: 'needs_passphrase' };
  if (!scrypt && passphrases.length > 0 && passphrases.length === identities.length) return { failure: 'needs_identity' };
  for (const identity of identities) {
    for (const stanza of header.stanzas) {
      let fileKey: Buffer | undefined;
      if (identity.type === 'scrypt') {
        if (!scrypt) continue;
        // Only now, with a passphrase given, is the (bounded) work factor spent.
        fileKey = unaead(await scryptWrapKey(identity.passphrase, scrypt.salt, scrypt.logN), scrypt.stanza.body);
        if (!fileKey) return { failure: 'wrong_passphrase' };
      } else fileKey = unwrapX25519(stanza, identity);
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
