/**
 * Encrypted backups through the real CLI and the real `age` tool (Debian's `age`): what
 * hoziron encrypts, age decrypts to a tar.gz whose every file matches its manifest; what age
 * encrypts from a hoziron tar.gz, hoziron verifies and restores. Damage of every kind is
 * refused in one line and leaves the home unchanged; the storage path never holds plaintext.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRecord } from '../../src/api/types.js';
import type { Manifest } from '../../src/archive/manifest.js';
import { runCliAsync } from '../support/cli.js';
import { snapshotTree } from '../restore/support/home.js';
import { createJson, makeHome, sha256, sh, type TestHome } from './helpers.js';

let h: TestHome;
let key: string;
let recipient: string;
let encrypted: BackupRecord;

function configure(recipients: string[]): void {
  const path = join(h.home, 'config.toml');
  const text = readFileSync(path, 'utf8').replace(/^recipients = .*$/m, `recipients = ${JSON.stringify(recipients)}`);
  writeFileSync(path, text);
}

/** `age -d -i key FILE | tar -tz`, via a shell pipe, as the issue states it. */
function ageList(file: string, identity = key): string[] {
  const r = spawnSync('sh', ['-c', `age -d -i "$1" "$2" | tar -tz`, 'sh', identity, file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

function damaged(name: string, mutate: (b: Buffer) => Buffer): string {
  const path = join(h.dir, name);
  writeFileSync(path, mutate(readFileSync(encrypted.path)));
  return path;
}

beforeAll(async () => {
  h = makeHome();
  key = join(h.dir, 'key.txt');
  const kg = await h.cli('backup', 'keygen', '--output', key);
  expect(kg.code, kg.stderr).toBe(0);
  recipient = kg.stdout.trim();
  expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
  expect(statSync(key).mode & 0o777).toBe(0o600);
  // A few MB of compressible text: any plaintext leak would show `ustar` or the gzip magic.
  const big = Array.from({ length: 40_000 }, (_, i) => `line ${i} of the agent's long memory\n`).join('');
  writeFileSync(join(h.home, 'data', 'memory', 'long.md'), big);
  writeFileSync(join(h.home, 'data', 'memory', 'long2.md'), big.split('').reverse().join(''));
  configure([recipient]);
}, 60_000);
afterAll(() => h.cleanup());

describe('encrypted create', () => {
  it('never writes a plaintext byte to the storage path, even while it works', async () => {
    const seen: string[] = [];
    let polling = true;
    const scan = (dir: string) => {
      for (const name of existsSync(dir) ? readdirSync(dir) : []) {
        const p = join(dir, name);
        let buf: Buffer;
        try {
          if (statSync(p).isDirectory()) {
            scan(p);
            continue;
          }
          buf = readFileSync(p);
        } catch {
          continue; // renamed or removed while scanned
        }
        if ((buf[0] === 0x1f && buf[1] === 0x8b) || buf.includes('ustar') || buf.includes('SQLite format 3')) seen.push(name);
      }
    };
    const poller = (async () => {
      while (polling) {
        scan(h.storage);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      encrypted = await createJson(h);
    } finally {
      polling = false;
      await poller;
    }
    expect(seen).toEqual([]);
    expect(encrypted.path).toMatch(/hoziron-backup-\d{8}_\d{6}\.tar\.gz\.age$/);
    expect(encrypted.encrypted).toBe(true);
  }, 120_000);

  it('is a standard age file: age decrypts it to a tar.gz whose files match the manifest', () => {
    const names = ageList(encrypted.path);
    expect(names[0]).toBe('MANIFEST.json');
    const out = join(h.dir, 'age-extract');
    sh('mkdir', ['-p', out]);
    const r = spawnSync('sh', ['-c', `age -d -i "$1" "$2" | tar -xz -C "$3"`, 'sh', key, encrypted.path, out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'MANIFEST.json'), 'utf8')) as Manifest;
    expect(manifest.id).toBe(encrypted.id);
    for (const f of manifest.files) expect(sha256(join(out, f.path)), f.path).toBe(f.sha256);
  });

  it('records the SHA-256 of the encrypted file: sha256sum -c passes', () => {
    const r = sh('sha256sum', ['-c', `${encrypted.path.split('/').pop()}.sha256`], h.storage);
    expect(r.code, r.stderr).toBe(0);
    expect(`sha256:${sha256(encrypted.path)}`).toBe(encrypted.checksum);
  });

  it('lists and shows it as encrypted from the summary, without an identity', async () => {
    const r = await h.cli('backup', 'show', encrypted.id, '--json');
    expect(r.code, r.stderr).toBe(0);
    const shown = JSON.parse(r.stdout) as BackupRecord & { manifest: { file_count: number } };
    expect(shown.encrypted).toBe(true);
    expect(shown.manifest.file_count).toBe(encrypted.file_count);
  });
});

describe('encrypted verify', () => {
  it('without an identity: checks the checksum and header and says what it could not check', async () => {
    const r = await h.cli('backup', 'verify', encrypted.id, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { checksum_verified: boolean; unchecked: string[] };
    expect(report.checksum_verified).toBe(true);
    expect(report.unchecked).toContain('every entry against the manifest');
  });

  it('with an identity: checks everything', async () => {
    const r = await h.cli('backup', 'verify', encrypted.id, '--identity', key, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { unchecked?: string[]; databases_checked: string[] };
    expect(report.unchecked).toBeUndefined();
    expect(report.databases_checked).toContain('keys.db');
  });

  it('checks the encrypted file against an operator --checksum, with or without an identity', async () => {
    const right = `sha256:${sha256(encrypted.path)}`;
    for (const identity of [[], ['--identity', key]]) {
      const r = await h.cli('backup', 'verify', encrypted.id, '--checksum', right, ...identity, '--json');
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { checksum_source: string; checksum_verified: boolean; checksum: string };
      expect(report).toMatchObject({ checksum_source: 'operator', checksum_verified: true, checksum: right });
    }
    const summary = readFileSync(`${encrypted.path}.json`, 'utf8');
    const wrong = `sha256:${'0'.repeat(64)}`;
    for (const identity of [[], ['--identity', key]]) {
      const r = await h.cli('backup', 'verify', encrypted.id, '--checksum', wrong, ...identity);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toMatch(/^error: .*\.tar\.gz\.age: checksum mismatch: .*expected 0{64} \(from the checksum given\)$/);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    }
    expect(readFileSync(`${encrypted.path}.json`, 'utf8')).toBe(summary);
  }, 60_000);

  it('exits 1 on one flipped byte anywhere', async () => {
    const size = statSync(encrypted.path).size;
    for (const at of [40, Math.floor(size / 2), size - 3]) {
      const bad = damaged(`flip-${at}.tar.gz.age`, (b) => {
        b[at]! ^= 0x40;
        return b;
      });
      const r = await h.cli('backup', 'verify', bad, '--identity', key);
      expect(r.code, `offset ${at}: ${r.stdout}`).toBe(1);
      expect(r.stderr).toMatch(/^error: .*flip-\d+\.tar\.gz\.age: /);
    }
  }, 60_000);
});

describe('encrypted restore', () => {
  const refusals: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['truncated', (b) => b.subarray(0, b.length - 1000), /truncated|does not authenticate/],
    [
      'flipped',
      (b) => {
        b[Math.floor(b.length / 3)]! ^= 1;
        return b;
      },
      /does not authenticate|damaged/,
    ],
    ['garbage-after', (b) => Buffer.concat([b, Buffer.from('trailing garbage')]), /does not authenticate/],
  ];

  for (const [name, mutate, message] of refusals) {
    it(`refuses a ${name} archive with --confirm and leaves the home unchanged`, async () => {
      const bad = damaged(`${name}.tar.gz.age`, mutate);
      const before = snapshotTree(h.home);
      const r = await h.cli('backup', 'restore', bad, '--confirm', '--no-verify', '--identity', key);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toMatch(message);
      expect(snapshotTree(h.home)).toEqual(before);
    }, 60_000);
  }

  it('refuses a missing or wrong identity in one line before anything is staged', async () => {
    const before = snapshotTree(h.home);
    const missing = await h.cli('backup', 'restore', encrypted.id, '--confirm');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .* is encrypted and no identity was given/);
    const other = join(h.dir, 'other.txt');
    expect((await h.cli('backup', 'keygen', '--output', other)).code).toBe(0);
    const wrong = await h.cli('backup', 'restore', encrypted.id, '--confirm', '--identity', other);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: .*: no identity given can decrypt it/);
    expect(wrong.stderr + missing.stderr).not.toMatch(/AGE-SECRET-KEY/);
    expect(existsSync(join(h.home, '.restore')) ? readdirSync(join(h.home, '.restore')) : []).toEqual([]);
    expect(snapshotTree(h.home)).toEqual(before);
  }, 60_000);

  it('refuses a plaintext tar.gz named .age', async () => {
    configure([]);
    const plain = await createJson(h);
    configure([recipient]);
    const disguised = join(h.dir, 'disguised.tar.gz.age');
    copyFileSync(plain.path, disguised);
    const r = await h.cli('backup', 'restore', disguised, '--identity', key, '--no-verify');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a valid age-encrypted archive.*plain gzip/);
  }, 60_000);

  it('restores an archive the age tool encrypted from a hoziron tar.gz; old plaintext archives still restore', async () => {
    configure([]);
    const plain = await createJson(h);
    configure([recipient]);
    const viaAge = join(h.storage, plain.path.split('/').pop()!.replace('.tar.gz', '-age.tar.gz.age'));
    const r = sh('age', ['-r', recipient, '-o', viaAge, plain.path]);
    expect(r.code, r.stderr).toBe(0);
    const verified = await h.cli('backup', 'verify', viaAge, '--identity', key, '--json');
    expect(verified.code, verified.stderr).toBe(0);
    const restored = await h.cli('backup', 'restore', viaAge, '--confirm', '--no-verify', '--identity', key, '--json');
    expect(restored.code, restored.stderr).toBe(0);
    const result = JSON.parse(restored.stdout) as { archive: { id: string }; safety_backup: BackupRecord };
    expect(result.archive.id).toBe(plain.id);
    // The safety backup is encrypted to the same recipients (written in the background: wait for it).
    expect(result.safety_backup.path).toMatch(/pre-restore\/.*\.tar\.gz\.age$/);
    for (let i = 0; i < 600 && existsSync(join(h.home, '.restore')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(ageList(result.safety_backup.path)[0]).toBe('MANIFEST.json');
    // An old plaintext archive restores with encryption configured.
    const old = await h.cli('backup', 'restore', plain.path, '--confirm');
    expect(old.code, old.stderr).toBe(0);
  }, 120_000);
});

describe('encryption config', () => {
  it('refuses a recipients line that is not a recipient, naming the file and line', async () => {
    const file = join(h.dir, 'recipients.txt');
    writeFileSync(file, `# team\n${recipient}\nage1notarecipient\n`);
    const path = join(h.home, 'config.toml');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace(/^recipients_file = .*$/m, `recipients_file = ${JSON.stringify(file)}`));
    try {
      const r = await h.cli('backup', 'list');
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(`error: ${file}:3: expected an age X25519 recipient (age1…), found "age1notarecipient"`);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('reads a recipients_file with CRLF line ends and comments', async () => {
    const second = join(h.dir, 'second.txt');
    const kg = await h.cli('backup', 'keygen', '--output', second);
    expect(kg.code, kg.stderr).toBe(0);
    const file = join(h.dir, 'recipients-crlf.txt');
    writeFileSync(file, `# operators\r\n${kg.stdout.trim()}\r\n\r\n  # escrow, offline\r\n${recipient}  \r\n`);
    const path = join(h.home, 'config.toml');
    const original = readFileSync(path, 'utf8');
    writeFileSync(
      path,
      original
        .replace(/^recipients = .*$/m, 'recipients = []')
        .replace(/^recipients_file = .*$/m, `recipients_file = ${JSON.stringify(file)}`),
    );
    try {
      const made = await createJson(h, '--output', join(h.dir, 'crlf.tar.gz.age'));
      expect(readFileSync(made.path, 'latin1').match(/^-> X25519 /gm)).toHaveLength(2);
      expect(ageList(made.path, second)[0]).toBe('MANIFEST.json');
      expect(ageList(made.path, key)[0]).toBe('MANIFEST.json');
    } finally {
      writeFileSync(path, original);
    }
  }, 60_000);

  it('HOZIRON_BACKUP_IDENTITY: a missing file is refused in one line, a 0644 one is used with a warning', async () => {
    const env = (path: string) =>
      runCliAsync(['--home', h.home, 'backup', 'verify', encrypted.id], { env: { HOZIRON_BACKUP_IDENTITY: path } });
    const missing = await env(join(h.dir, 'no-such-key.txt'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: the identity file .*no-such-key\.txt does not exist\n/);
    expect(missing.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    const loose = join(h.dir, 'env-loose.txt');
    copyFileSync(key, loose);
    chmodSync(loose, 0o644);
    const warned = await env(loose);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/warning: the identity file .*env-loose\.txt is accessible by group or others \(mode 0644\)/);
    expect(warned.stdout).toMatch(/is sound/);
    expect(warned.stdout + warned.stderr).not.toMatch(/AGE-SECRET-KEY/);
  }, 60_000);

  it('refuses an identity file that holds only a comment, in one line', async () => {
    const commentOnly = join(h.dir, 'comment-only.txt');
    writeFileSync(commentOnly, '# created: 2026-01-01T00:00:00Z\n', { mode: 0o600 });
    const before = snapshotTree(h.home);
    const r = await h.cli('backup', 'restore', encrypted.id, '--confirm', '--identity', commentOnly);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the identity file .*comment-only\.txt holds no identity\n$/);
    expect(snapshotTree(h.home)).toEqual(before);
  }, 60_000);

  it('warns about an identity file that group or others can read', async () => {
    const loose = join(h.dir, 'loose.txt');
    copyFileSync(key, loose);
    chmodSync(loose, 0o644);
    const r = await h.cli('backup', 'verify', encrypted.id, '--identity', loose);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: the identity file .*loose\.txt is accessible by group or others \(mode 0644\)/);
  }, 60_000);

  it('keygen never replaces an existing file', async () => {
    const r = await h.cli('backup', 'keygen', '--output', key);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/already exists; not replacing it/);
  });

  it('retention and delete handle encrypted archives like any other', async () => {
    const r = await h.cli('backup', 'delete', encrypted.id, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(encrypted.path)).toBe(false);
    expect(existsSync(`${encrypted.path}.sha256`)).toBe(false);
    expect(existsSync(`${encrypted.path}.json`)).toBe(false);
  });
});
