/**
 * Passphrase archives (age's scrypt recipient) through the real CLI and Debian's `age`, both
 * ways: `age -p`/`age -d` ask on the terminal only, so they run under a pty (`script` from
 * util-linux), and so does hoziron's own prompt. The passphrase comes from the terminal,
 * HOZIRON_BACKUP_PASSPHRASE or a file, never argv, and is never printed. Every refusal is one
 * line and changes nothing.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRecord } from '../../src/api/types.js';
import type { Manifest } from '../../src/archive/manifest.js';
import { BIN, runCliAsync, type CliResult } from '../support/cli.js';
import { snapshotTree, waitForCleanup } from '../restore/support/home.js';
import { createJson, makeHome, sha256, sh, type TestHome } from './helpers.js';

const PASSPHRASE = 'correct horse battery staple';
let h: TestHome;

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * Run `argv` on a pty, typing `answers` one at a time, each when a prompt (a line ending in
 * "passphrase:" or similar) has appeared. The transcript is everything the pty showed.
 */
function underPty(argv: string[], answers: string[], env: Record<string, string> = {}): Promise<{ code: number; transcript: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', argv.map(quote).join(' '), '/dev/null'], {
      env: { ...process.env, ...env, TERM: 'dumb' },
    });
    let transcript = '';
    let prompts = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      transcript += d;
      const seen = (transcript.match(/passphrase[^:\n]*: ?/gi) ?? []).length;
      while (prompts < seen && prompts < answers.length) child.stdin.write(`${answers[prompts++]}\n`);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (transcript += d));
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code: code ?? -1, transcript });
    });
  });
}

const hoziron = (...args: string[]) => [process.execPath, BIN, '--home', h.home, ...args];
const withEnv = (args: string[], env: Record<string, string>): Promise<CliResult> => runCliAsync(['--home', h.home, ...args], { env });

function storageFiles(): string[] {
  return existsSync(h.storage) ? readdirSync(h.storage).sort() : [];
}

/** Decrypt with `age -d` (passphrase typed on its pty) and check every file against the manifest. */
async function checkWithAge(file: string, into: string): Promise<Manifest> {
  const plain = join(h.dir, `${into}.tar.gz`);
  const r = await underPty(['age', '-d', '-o', plain, file], [PASSPHRASE]);
  expect(r.code, r.transcript).toBe(0);
  expect(sh('tar', ['-tzf', plain]).stdout.split('\n')[0]).toBe('MANIFEST.json');
  const out = join(h.dir, into);
  mkdirSync(out);
  expect(sh('tar', ['-xzf', plain, '-C', out]).code).toBe(0);
  const manifest = JSON.parse(readFileSync(join(out, 'MANIFEST.json'), 'utf8')) as Manifest;
  for (const f of manifest.files) expect(sha256(join(out, f.path)), f.path).toBe(f.sha256);
  return manifest;
}

beforeAll(() => {
  h = makeHome();
});
afterAll(() => h.cleanup());

describe('passphrase archives made by hoziron', () => {
  it('from HOZIRON_BACKUP_PASSPHRASE: an age -p file that age -d decrypts to the archive', async () => {
    const file = join(h.dir, 'env.tar.gz.age');
    const r = await withEnv(['backup', 'create', '--output', file, '--passphrase', '--json'], { HOZIRON_BACKUP_PASSPHRASE: PASSPHRASE });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(PASSPHRASE);
    const record = JSON.parse(r.stdout) as BackupRecord;
    expect(record.encrypted).toBe(true);
    expect(readFileSync(file, 'latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt \S+ 18\n/);
    expect(sh('sha256sum', ['-c', 'env.tar.gz.age.sha256'], h.dir).code).toBe(0);
    expect((await checkWithAge(file, 'env-out')).id).toBe(record.id);
    // Without the passphrase: its checksum and header only, and it says so.
    const outside = await h.cli('backup', 'verify', file);
    expect(outside.code, outside.stderr).toBe(0);
    expect(outside.stdout).toMatch(/header: +a well-formed age v1 header for a passphrase \(scrypt\)/);
    expect(outside.stdout).toMatch(/give --passphrase to check everything/);
  }, 120_000);

  it('asked on the terminal: twice when made, once when verified, never echoed', async () => {
    const file = join(h.dir, 'tty.tar.gz.age');
    const made = await underPty(hoziron('backup', 'create', '--output', file, '--passphrase'), [PASSPHRASE, PASSPHRASE]);
    expect(made.code, made.transcript).toBe(0);
    expect(made.transcript).toMatch(/Enter passphrase: [\s\S]*Confirm passphrase: /);
    const verified = await underPty(hoziron('backup', 'verify', file, '--passphrase'), [PASSPHRASE]);
    expect(verified.code, verified.transcript).toBe(0);
    expect(verified.transcript).toMatch(/is sound/);
    expect(made.transcript + verified.transcript).not.toContain(PASSPHRASE);
    await checkWithAge(file, 'tty-out');
  }, 120_000);

  it('refuses two different answers on the terminal, writing nothing', async () => {
    const file = join(h.dir, 'mismatch.tar.gz.age');
    const r = await underPty(hoziron('backup', 'create', '--output', file, '--passphrase'), [PASSPHRASE, 'something else']);
    expect(r.code).toBe(2);
    expect(r.transcript).toMatch(/error: the two passphrases do not match; nothing was written/);
    expect(existsSync(file) || existsSync(`${file}.sha256`) || existsSync(`${file}.json`)).toBe(false);
  }, 60_000);
});

describe('passphrase archives made by age -p', () => {
  let viaAge: string;
  let plain: BackupRecord;

  beforeAll(async () => {
    plain = await createJson(h);
    viaAge = join(h.dir, 'from-age.tar.gz.age');
    const r = await underPty(['age', '-p', '-o', viaAge, plain.path], [PASSPHRASE, PASSPHRASE]);
    expect(r.code, r.transcript).toBe(0);
  }, 120_000);

  it('verifies completely with --passphrase-file (CRLF line end)', async () => {
    const pf = join(h.dir, 'pass.txt');
    writeFileSync(pf, `${PASSPHRASE}\r\n`, { mode: 0o600 });
    const full = await h.cli('backup', 'verify', viaAge, '--passphrase-file', pf, '--json');
    expect(full.code, full.stderr).toBe(0);
    const report = JSON.parse(full.stdout) as { id: string; unchecked?: string[]; databases_checked: string[] };
    expect(report.id).toBe(plain.id);
    expect(report.unchecked).toBeUndefined();
    expect(report.databases_checked).toContain('keys.db');
  }, 60_000);

  it('restores with the passphrase; the safety backup follows the config (plain here), not the passphrase', async () => {
    const r = await withEnv(['backup', 'restore', viaAge, '--confirm', '--passphrase', '--json', '--no-verify'], {
      HOZIRON_BACKUP_PASSPHRASE: PASSPHRASE,
    });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { archive: { id: string }; safety_backup: BackupRecord };
    expect(result.archive.id).toBe(plain.id);
    expect(result.safety_backup.path).toMatch(/\.tar\.gz$/);
  }, 120_000);

  it('refuses a wrong passphrase, an identity, or no passphrase, in one line, the home unchanged', async () => {
    const other = join(h.dir, 'other.key');
    expect((await h.cli('backup', 'keygen', '--output', other)).code).toBe(0);
    // The previous test's restore makes its safety backup in the background: let it finish.
    expect(await waitForCleanup(h.home)).toBe(true);
    const before = snapshotTree(h.home);
    const cases: [Promise<CliResult>, RegExp][] = [
      [
        withEnv(['backup', 'restore', viaAge, '--confirm', '--no-verify', '--passphrase'], { HOZIRON_BACKUP_PASSPHRASE: 'wrong' }),
        /^error: .*from-age\.tar\.gz\.age: the passphrase given does not decrypt it/,
      ],
      [
        h.cli('backup', 'restore', viaAge, '--confirm', '--no-verify', '--identity', other),
        /^error: .*from-age\.tar\.gz\.age is encrypted with a passphrase and none was given\nhint: pass --passphrase/,
      ],
      [h.cli('backup', 'restore', viaAge, '--confirm', '--no-verify'), /^error: .*from-age\.tar\.gz\.age is encrypted and no identity/],
    ];
    for (const [run, message] of cases) {
      const r = await run;
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    }
    expect(snapshotTree(h.home)).toEqual(before);
  }, 120_000);
});

describe('passphrase refusals', () => {
  it('only for a one-off --output: a create into the storage path is refused, nothing written', async () => {
    const before = storageFiles();
    const r = await withEnv(['backup', 'create', '--passphrase'], { HOZIRON_BACKUP_PASSPHRASE: PASSPHRASE });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'error: a passphrase encrypts only a one-off archive written with --output; backups in the storage path encrypt to the configured recipients',
    );
    expect(storageFiles()).toEqual(before);
  });

  it('without a terminal, HOZIRON_BACKUP_PASSPHRASE or a file: refused in one line', async () => {
    const file = join(h.dir, 'no-tty.tar.gz.age');
    const r = await h.cli('backup', 'create', '--output', file, '--passphrase');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: --passphrase needs a terminal to ask on, and stdin is not one/);
    expect(existsSync(file)).toBe(false);
  });

  it('a passphrase file: a missing one is refused, an empty one too, a loose one warned about', async () => {
    const file = join(h.dir, 'pf.tar.gz.age');
    const missing = await h.cli('backup', 'create', '--output', file, '--passphrase-file', join(h.dir, 'nope.txt'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: the passphrase file .*nope\.txt does not exist\n$/);
    const empty = join(h.dir, 'empty.txt');
    writeFileSync(empty, '\n', { mode: 0o600 });
    const refused = await h.cli('backup', 'create', '--output', file, '--passphrase-file', empty);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error: the passphrase file .*empty\.txt: the passphrase is empty\n$/);
    expect(existsSync(file)).toBe(false);
    const loose = join(h.dir, 'loose.txt');
    writeFileSync(loose, `${PASSPHRASE}\n`);
    chmodSync(loose, 0o644);
    const warned = await h.cli('backup', 'create', '--output', file, '--passphrase-file', loose);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/warning: the passphrase file .*loose\.txt is accessible by group or others \(mode 0644\)/);
    expect(warned.stdout + warned.stderr).not.toContain(PASSPHRASE);
  }, 60_000);

  it('--passphrase and --identity together are refused', async () => {
    const r = await h.cli('backup', 'verify', 'x.tar.gz.age', '--passphrase', '--identity', 'k.txt');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: option '--passphrase' cannot be used with option '--identity <file>'/);
  });

  it('never configured: a passphrase key in [backup.encryption] is refused without repeating it', async () => {
    const path = join(h.home, 'config.toml');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace(/^identity_file = .*$/m, `identity_file = ""\npassphrase = "${PASSPHRASE}"`));
    try {
      const r = await h.cli('backup', 'list');
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toMatch(/^error: .*config\.toml: backup\.encryption\.passphrase: a passphrase is never configured/);
      expect(r.stderr).not.toContain(PASSPHRASE);
    } finally {
      writeFileSync(path, original);
    }
  });
});
