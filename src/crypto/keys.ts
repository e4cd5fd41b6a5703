/**
 * age X25519 keys: recipients (`age1…`, public) and identities (`AGE-SECRET-KEY-1…`, secret),
 * both Bech32 (BIP 173 without its length limit; age's strings fit within it anyway).
 * Identities are held as Node `KeyObject`s, which never print their bytes; no function here
 * puts a secret, or any part of one, in an error or a warning: a bad identity line is named
 * by its file and line number only. Identity files are the age-keygen format: `#` comments,
 * one `AGE-SECRET-KEY-1…` per line.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { bech32 } from 'bech32';
import { HozironError } from '../errors.js';
import type { Passphrase } from './passphrase.js';
import { readSecretFile } from './secret-file.js';

const RECIPIENT_HRP = 'age';
const IDENTITY_HRP = 'age-secret-key-';
const BECH32_LIMIT = 1000;
// DER wrappers of a raw 32-byte X25519 key (RFC 8410): Node imports keys as DER, not raw.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** A public X25519 recipient. */
export interface X25519Recipient {
  readonly type: 'X25519';
  readonly text: string;
  readonly publicKey: Buffer;
}

/** A passphrase to encrypt to (age's scrypt recipient): then the only recipient of the file. */
interface ScryptRecipient {
  readonly type: 'scrypt';
  readonly passphrase: Passphrase;
}

export type Recipient = X25519Recipient | ScryptRecipient;

/** A secret X25519 identity: the key object and its public half (no secret bytes kept). */
export interface X25519Identity {
  readonly type: 'X25519';
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

/** A passphrase to decrypt with (age's scrypt identity). */
interface ScryptIdentity {
  readonly type: 'scrypt';
  readonly passphrase: Passphrase;
}

export type Identity = X25519Identity | ScryptIdentity;

function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

export function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function decodeBech32(text: string, hrp: string): Buffer | undefined {
  // Bech32 is all-lowercase or all-uppercase; the library refuses mixed case.
  try {
    const { prefix, words } = bech32.decode(text, BECH32_LIMIT);
    if (prefix !== hrp) return undefined;
    const bytes = Buffer.from(bech32.fromWords(words));
    return bytes.length === 32 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Whether text looks like a secret key, so a message must not repeat it. */
export function looksSecret(text: string): boolean {
  return /age-secret-key-/i.test(text);
}

/** Parse `age1…`; undefined if it is not an X25519 recipient. */
export function parseRecipient(text: string): X25519Recipient | undefined {
  const trimmed = text.trim();
  if (trimmed !== trimmed.toLowerCase()) return undefined;
  const publicKey = decodeBech32(trimmed, RECIPIENT_HRP);
  return publicKey ? { type: 'X25519', text: trimmed, publicKey } : undefined;
}

/** Parse `AGE-SECRET-KEY-1…`; undefined if it is not an X25519 identity. */
function parseIdentity(text: string): X25519Identity | undefined {
  if (text !== text.toUpperCase()) return undefined;
  const secret = decodeBech32(text, IDENTITY_HRP);
  if (!secret) return undefined;
  try {
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
    return { type: 'X25519', privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
  } finally {
    secret.fill(0);
  }
}

function formatRecipient(publicKey: Buffer): string {
  return bech32.encode(RECIPIENT_HRP, bech32.toWords(publicKey), BECH32_LIMIT);
}

/**
 * Recipients from the text of a recipients file: one per line, blank lines and `#` comments
 * ignored. A bad line is refused naming `where:line`; a secret key is not echoed.
 */
export function parseRecipientsText(text: string, where: string): X25519Recipient[] {
  const out: X25519Recipient[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const r = parseRecipient(line);
    if (!r) throw new HozironError('config_invalid', `${where}:${i + 1}: ${notARecipient(line)}`, `fix line ${i + 1} of ${where}`);
    out.push(r);
  });
  return out;
}

/** The message for a string that is not a recipient, without repeating a secret. */
export function notARecipient(text: string): string {
  if (looksSecret(text)) return 'expected an age recipient (age1…), found a secret key; recipients are public keys only';
  const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return `expected an age X25519 recipient (age1…), found ${JSON.stringify(shown)}`;
}

export interface LoadedIdentities {
  identities: X25519Identity[];
  /** A problem that does not stop the read (group/other permissions). */
  warning?: string;
}

/** Read an identity file (age-keygen format). Errors name the file and line, never a key. */
export async function readIdentityFile(path: string): Promise<LoadedIdentities> {
  const { text, warning } = await readSecretFile(path, 'the identity file', 'identity_required');
  const identities: X25519Identity[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const id = parseIdentity(line);
    if (!id) {
      throw new HozironError(
        'identity_required',
        `${path}:${i + 1}: not an age X25519 identity (expected AGE-SECRET-KEY-1…)`,
        'give a file written by `age-keygen` or `hoziron backup keygen`',
      );
    }
    identities.push(id);
  });
  if (identities.length === 0) throw new HozironError('identity_required', `the identity file ${path} holds no identity`);
  return { identities, ...(warning ? { warning } : {}) };
}

export interface NewIdentity {
  /** The identity file's text (secret): comments and the AGE-SECRET-KEY-1… line. */
  fileText: string;
  recipient: string;
}

/** A fresh X25519 identity in age-keygen's file format. */
export function generateIdentity(now: Date = new Date()): NewIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const secret = der.subarray(PKCS8_PREFIX.length);
  const recipient = formatRecipient(rawPublicKey(publicKey));
  const line = bech32.encode(IDENTITY_HRP, bech32.toWords(secret), BECH32_LIMIT).toUpperCase();
  der.fill(0);
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { fileText: `# created: ${created}\n# public key: ${recipient}\n${line}\n`, recipient };
}
