/**
 * The age layer on its own: STREAM chunking at every boundary, the header's MAC and stanzas,
 * and each way a file can be damaged. Interop with the real `age` tool is in
 * test/backup/encrypted.integration.test.ts.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { AgeDecrypter, AgeFileWriter, encryptAge } from '../../src/crypto/age.js';
import { generateIdentity, parseRecipient, parseRecipientsText, readIdentityFile, type Identity } from '../../src/crypto/keys.js';
import { CHUNK, StreamOpener, StreamSealer } from '../../src/crypto/stream.js';

const dir = mkdtempSync(join(tmpdir(), 'hoziron-age-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function identityFor(name: string): Promise<{ identities: Identity[]; recipient: string; path: string }> {
  const id = generateIdentity();
  const path = join(dir, name);
  writeFileSync(path, id.fileText, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { identities: (await readIdentityFile(path)).identities, recipient: id.recipient, path };
}

async function encrypt(data: Buffer, recipients: string[], piece = 100_003): Promise<Buffer> {
  async function* src() {
    for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
  }
  const out: Buffer[] = [];
  for await (const c of encryptAge(
    src(),
    recipients.map((r) => parseRecipient(r)!),
  ))
    out.push(c);
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

describe('age files', () => {
  it('round-trips plaintexts at every chunk boundary, to several recipients', async () => {
    const a = await identityFor('a.txt');
    const b = await identityFor('b.txt');
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17]) {
      const data = randomBytes(size);
      const file = await encrypt(data, [a.recipient, b.recipient]);
      expect((await decrypt(file, a.identities)).equals(data), `size ${size}`).toBe(true);
      expect((await decrypt(file, b.identities)).equals(data), `size ${size}`).toBe(true);
    }
  });

  it('refuses a flipped byte in any chunk, and in the header, naming no key', async () => {
    const a = await identityFor('flip.txt');
    const data = randomBytes(3 * CHUNK + 100);
    const file = await encrypt(data, [a.recipient]);
    const headerEnd = file.indexOf('\n---') + 1;
    for (const at of [10, headerEnd + 5, headerEnd + 60, headerEnd + 16 + CHUNK + 20, file.length - 1]) {
      const bad = Buffer.from(file);
      bad[at]! ^= 0x01;
      const err = await decrypt(bad, a.identities).catch((e: Error) => e);
      expect(err, `offset ${at}`).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/^test\.age: /);
      expect((err as Error).message).not.toMatch(/AGE-SECRET-KEY/i);
    }
  });

  it('refuses a truncated file, also one cut at a chunk boundary', async () => {
    const a = await identityFor('trunc.txt');
    const file = await encrypt(randomBytes(2 * CHUNK + 5), [a.recipient]);
    const payloadStart = file.indexOf('\n---') + 1 + file.subarray(file.indexOf('\n---') + 1).indexOf('\n') + 1 + 16;
    for (const cut of [file.length - 1, payloadStart + CHUNK + 16, payloadStart, 30]) {
      await expect(decrypt(file.subarray(0, cut), a.identities)).rejects.toThrow(/truncated|does not authenticate|ends inside/);
    }
  });

  it('refuses garbage after the final chunk', async () => {
    const a = await identityFor('tail.txt');
    for (const size of [100, CHUNK]) {
      const file = await encrypt(randomBytes(size), [a.recipient]);
      await expect(decrypt(Buffer.concat([file, Buffer.from('garbage')]), a.identities)).rejects.toThrow(/does not authenticate/);
    }
  });

  it('refuses a wrong identity in one line', async () => {
    const a = await identityFor('right.txt');
    const b = await identityFor('wrong.txt');
    const file = await encrypt(randomBytes(10), [a.recipient]);
    await expect(decrypt(file, b.identities)).rejects.toThrow(/^test\.age: no identity given can decrypt it/);
  });

  it('refuses a header that never ends instead of buffering it', async () => {
    const a = await identityFor('huge.txt');
    const endless = Buffer.from(`age-encryption.org/v1\n${'-> X25519 AAAA\n\n'.repeat(80_000)}`);
    await expect(decrypt(endless, a.identities)).rejects.toThrow(/the header is too large/);
  });

  it('refuses a plain gzip file, saying what it is', async () => {
    const a = await identityFor('plain.txt');
    const gz = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
    await expect(decrypt(gz, a.identities)).rejects.toThrow(/not a valid age-encrypted archive.*plain gzip/);
  });
});

describe('STREAM', () => {
  it('never emits a full-size chunk as non-final at the end', () => {
    const key = randomBytes(32);
    const sealer = new StreamSealer(key);
    const sealed = Buffer.concat([sealer.update(randomBytes(CHUNK)), sealer.final()]);
    expect(sealed.length).toBe(CHUNK + 16);
    const opener = new StreamOpener(key);
    expect(Buffer.concat([opener.update(sealed), opener.final()]).length).toBe(CHUNK);
  });

  it('an age file written out of order (body first, then the leading chunks) decrypts as one', async () => {
    const a = await identityFor('ooo.txt');
    const writer = await AgeFileWriter.create([parseRecipient(a.recipient)!]);
    const region = randomBytes(CHUNK * 2);
    const body = randomBytes(CHUNK * 3 + 5);
    const sealer = writer.sealerAt(2);
    const sealedBody = Buffer.concat([sealer.update(body), sealer.final()]);
    const file = Buffer.alloc(writer.offsetOf(2) + sealedBody.length);
    sealedBody.copy(file, writer.offsetOf(2));
    writer.sealerAt(0).sealChunks(region).copy(file, writer.prefix.length);
    writer.prefix.copy(file, 0);
    expect((await decrypt(file, a.identities)).equals(Buffer.concat([region, body]))).toBe(true);
    expect(() => writer.sealerAt(0).sealChunks(randomBytes(CHUNK + 1))).toThrow(/whole chunks/);
  });
});

describe('keys', () => {
  it('refuses a recipients line that is not a recipient, naming file and line, never echoing a secret', () => {
    const id = generateIdentity();
    const secret = id.fileText.split('\n')[2]!;
    expect(() => parseRecipientsText(`# ok\n${id.recipient}\nnot-a-key\n`, '/r.txt')).toThrow(
      /^\/r\.txt:3: expected an age X25519 recipient/,
    );
    let message = '';
    try {
      parseRecipientsText(`${secret}\n`, '/r.txt');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^\/r\.txt:1: .*found a secret key/);
    expect(message).not.toContain(secret.slice(15));
  });

  it('warns about an identity file readable by group or others', async () => {
    const a = await identityFor('loose.txt');
    chmodSync(a.path, 0o644);
    const loaded = await readIdentityFile(a.path);
    expect(loaded.identities).toHaveLength(1);
    expect(loaded.warning).toMatch(/accessible by group or others \(mode 0644\)/);
  });

  it('refuses a bad identity line by file and line only', async () => {
    const path = join(dir, 'bad-id.txt');
    writeFileSync(path, '# comment\nAGE-SECRET-KEY-1NOTAKEY\n', { mode: 0o600 });
    await expect(readIdentityFile(path)).rejects.toThrow(new RegExp(`^${path}:2: not an age X25519 identity`));
  });

  it('does not show an identity when it is inspected or serialised', async () => {
    const a = await identityFor('inspect.txt');
    const secret = generateIdentity().fileText; // format check only
    expect(secret).toMatch(/AGE-SECRET-KEY-1[0-9A-Z]{58}\n$/);
    expect(JSON.stringify(a.identities)).not.toMatch(/AGE-SECRET-KEY/);
  });
});
