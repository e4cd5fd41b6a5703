/**
 * age's scrypt recipient type (c2sp.org/age#scrypt-recipient-stanza), what `age -p` writes:
 * the stanza `-> scrypt <salt> <logN>` whose body is the file key sealed with
 * ChaCha20-Poly1305 under scrypt(passphrase, "age-encryption.org/v1/scrypt" ‖ salt, N = 2^logN,
 * r = 8, p = 1). An scrypt stanza must be the only stanza of its header (the spec's rule: a
 * passphrase file proves who encrypted it only if nobody else could have).
 *
 * The work factor is read from the file, so it is bounded: a header asking for more than
 * 2^MAX_LOG_N is refused before any work (age itself stops at 2^22; every file `age -p` and
 * this module write uses 2^18). Derivation runs on the thread pool (crypto.scrypt), never on
 * the event loop. The passphrase is held in a `Passphrase`, which prints as a placeholder.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { inspect } from 'node:util';
import { HozironError } from '../errors.js';
import { readSecretFile } from './secret-file.js';

const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
/** What age -p uses, and what this module writes. */
export const DEFAULT_LOG_N = 18;
/** The largest work factor accepted from a file: 2^20 costs 1 GiB of memory and a few seconds. */
const MAX_LOG_N = 20;
const SALT = 16;

/** A passphrase in memory: never printed, never serialised. */
export class Passphrase {
  readonly #bytes: Buffer;

  constructor(text: string) {
    this.#bytes = Buffer.from(text, 'utf8');
  }

  get bytes(): Buffer {
    return this.#bytes;
  }

  toJSON(): string {
    return '[passphrase]';
  }

  toString(): string {
    return '[passphrase]';
  }

  [inspect.custom](): string {
    return '[passphrase]';
  }
}

/** Why an scrypt stanza is refused; age-header turns it into its HeaderError. */
export class ScryptStanzaError extends Error {}

/** The wrap key for one salt and work factor (on the thread pool). */
export function scryptWrapKey(passphrase: Passphrase, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase.bytes,
      Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]),
      32,
      // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is below age's 2^18.
      { N, r: 8, p: 1, maxmem: 128 * N * 8 + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** A fresh salt for a new stanza. */
export function newScryptSalt(): Buffer {
  return randomBytes(SALT);
}

/**
 * The salt and work factor of an scrypt stanza's arguments (after `scrypt`), checked as age
 * checks them: a 16-byte salt and a decimal logN without leading zeros, 1 ≤ logN ≤ MAX_LOG_N.
 */
export function parseScryptArgs(args: readonly string[], decodeSalt: (text: string) => Buffer): { salt: Buffer; logN: number } {
  if (args.length !== 2) throw new ScryptStanzaError('an scrypt stanza does not have exactly two arguments');
  const salt = decodeSalt(args[0]!);
  if (salt.length !== SALT) throw new ScryptStanzaError('an scrypt stanza salt is not 16 bytes');
  if (!/^[1-9][0-9]{0,2}$/.test(args[1]!)) throw new ScryptStanzaError('an scrypt stanza work factor is not a decimal number');
  const logN = Number(args[1]);
  if (logN > MAX_LOG_N) {
    throw new ScryptStanzaError(
      `its passphrase work factor is 2^${logN}, above the 2^${MAX_LOG_N} this program accepts (refused before any work)`,
    );
  }
  return { salt, logN };
}

/** Refuse an empty passphrase: it would encrypt to anyone. `where` names its source. */
export function checkedPassphrase(text: string, where: string): Passphrase {
  if (text === '') throw new HozironError('usage', `${where}: the passphrase is empty`);
  return new Passphrase(text);
}

/**
 * A passphrase from a file: its first line (a final newline, or CRLF, is not part of it).
 * Errors name the file, never its contents; a file readable by group or others is used
 * with a warning, as an identity file is.
 */
export async function readPassphraseFile(path: string): Promise<{ passphrase: Passphrase; warning?: string }> {
  const { text, warning } = await readSecretFile(path, 'the passphrase file', 'usage');
  const passphrase = checkedPassphrase(text.split('\n')[0]!.replace(/\r$/, ''), `the passphrase file ${path}`);
  return { passphrase, ...(warning ? { warning } : {}) };
}
