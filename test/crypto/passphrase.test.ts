/**
 * age's scrypt (passphrase) recipient on its own: round trip, a wrong passphrase, the kinds
 * mixed up, and the header checks that bound the work a hostile file can ask for. Interop
 * with `age -p` is in test/backup/encrypted-passphrase.integration.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { AgeDecrypter, encryptAge, inspectAgeHeader } from '../../src/crypto/age.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, parseRecipient, readIdentityFile, type Identity, type Recipient } from '../../src/crypto/keys.js';
import { CHUNK } from '../../src/crypto/stream.js';
import { Passphrase } from '../../src/crypto/passphrase.js';

const dir = mkdtempSync(join(tmpdir(), 'hoziron-passphrase-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function encrypt(data: Buffer, recipients: Recipient[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of encryptAge(Readable.from([data]), recipients)) out.push(c);
  return Buffer.concat(out);
}

async function decrypt(file: Buffer, identities: Identity[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([file]),
    new AgeDecrypter(identities, 'test.age'),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

const scrypt = (text: string): { type: 'scrypt'; passphrase: Passphrase } => ({ type: 'scrypt', passphrase: new Passphrase(text) });

/** A fresh X25519 key, read back from its identity file. */
async function x25519(): Promise<{ identity: Identity; recipient: Recipient }> {
  const id = generateIdentity();
  const path = join(dir, `key-${Math.random()}.txt`);
  writeFileSync(path, id.fileText, { mode: 0o600 });
  return { identity: (await readIdentityFile(path)).identities[0]!, recipient: parseRecipient(id.recipient)! };
}

/** `file` with the header's text changed by `edit` (the payload kept). */
function editHeader(file: Buffer, edit: (header: string) => string): Buffer {
  const end = file.indexOf('\n---') + 1;
  const macEnd = file.indexOf('\n', end) + 1;
  return Buffer.concat([Buffer.from(edit(file.subarray(0, macEnd).toString('latin1')), 'latin1'), file.subarray(macEnd)]);
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => new Error('resolved'),
    (e: Error) => e,
  );

describe('age passphrase (scrypt) files', () => {
  const data = randomBytes(2 * CHUNK + 5);
  let file: Buffer;

  it('writes the stanza age -p writes (a 16-byte salt, work factor 2^18) and reads it back', async () => {
    file = await encrypt(data, [scrypt('correct horse')]);
    expect(file.toString('latin1', 0, 200)).toMatch(/^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 18\n[A-Za-z0-9+/]{43}\n--- /);
    expect((await decrypt(file, [scrypt('correct horse')])).equals(data)).toBe(true);
  });

  it('refuses a wrong passphrase in one line', async () => {
    const err = await failure(decrypt(file, [scrypt('wrong horse')]));
    expect(err.message).toBe('test.age: the passphrase given does not decrypt it (a wrong passphrase, or its header is damaged)');
  });

  it('says a passphrase file needs a passphrase, and a recipients file an identity', async () => {
    const { identity, recipient } = await x25519();
    expect((await failure(decrypt(file, [identity]))).message).toBe('test.age is encrypted with a passphrase and none was given');
    const toKey = await encrypt(data, [recipient]);
    expect((await failure(decrypt(toKey, [scrypt('correct horse')]))).message).toMatch(
      /^test\.age is encrypted to age recipients, not with a passphrase/,
    );
  });

  it('refuses a work factor above 2^20 before doing any work', async () => {
    const hostile = editHeader(file, (h) => h.replace(/ 18\n/, ' 30\n'));
    const err = await failure(decrypt(hostile, [scrypt('correct horse')]));
    expect(err.message).toMatch(/^test\.age: not a valid age-encrypted archive: its passphrase work factor is 2\^30, above the 2\^20/);
  });

  it('refuses a work factor written with a leading zero, or not a number', async () => {
    for (const bad of ['018', '1e1', '-1']) {
      const err = await failure(
        decrypt(
          editHeader(file, (h) => h.replace(/ 18\n/, ` ${bad}\n`)),
          [scrypt('correct horse')],
        ),
      );
      expect(err.message, bad).toMatch(/work factor is not a decimal number/);
    }
  });

  it('refuses an scrypt stanza beside another stanza', async () => {
    const { recipient } = await x25519();
    const other = await encrypt(data, [recipient]);
    const x25519Stanza = /\n(-> X25519 [^\n]*\n[^\n]*\n)/.exec(other.toString('latin1'))![1]!;
    const mixed = editHeader(file, (h) => h.replace('\n---', `\n${x25519Stanza.slice(0, -1)}\n---`));
    const err = await failure(decrypt(mixed, [scrypt('correct horse')]));
    expect(err.message).toMatch(/an scrypt \(passphrase\) stanza is not the only stanza of the header/);
    // A verify without any key refuses it too, as it refuses the hostile work factor.
    const path = join(dir, 'mixed.age');
    writeFileSync(path, mixed);
    await expect(inspectAgeHeader(path)).rejects.toThrow(/an scrypt \(passphrase\) stanza is not the only stanza/);
    writeFileSync(
      path,
      editHeader(file, (h) => h.replace(/ 18\n/, ' 30\n')),
    );
    await expect(inspectAgeHeader(path)).rejects.toThrow(/work factor is 2\^30/);
  });

  it('never encrypts a passphrase beside a recipient', async () => {
    const { recipient } = await x25519();
    await expect(encrypt(data, [scrypt('p'), recipient])).rejects.toThrow(/only recipient/);
  });

  it('a Passphrase never prints its text', () => {
    const p = new Passphrase('hunter2');
    expect(`${String(p)} ${JSON.stringify({ p })} ${inspect({ p })}`).not.toContain('hunter2');
  });
});
