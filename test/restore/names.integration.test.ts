/**
 * Names a Linux home may hold and every archive must carry (issue 10 items 1 and 2), through
 * the real CLI: `Notes.md` beside `notes.md`, the NFC and NFD spellings of `café`, and names
 * that are not UTF-8. Trees are compared by bytes (`find -print0 | sort -z | xargs -0
 * sha256sum`), archives are read by GNU tar and Python's tarfile as well as our reader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../support/cli.js';
import { cli, makeHome, waitForCleanup } from './support/home.js';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('hoziron-names-');
});
afterAll(() => tmp.cleanup());

/** Name bytes under `dir` as a Buffer path (Node's string paths cannot hold them). */
const bytesPath = (dir: string, ...parts: (string | Buffer)[]) =>
  Buffer.concat([Buffer.from(dir), ...parts.flatMap((p) => [Buffer.from('/'), Buffer.from(p)])]);

/**
 * Every path under the scope's plain-file items and the SHA-256 of every file, by bytes. The
 * databases are left out: they are archived as snapshots, and a restore appends to audit.db.
 */
function treeDigest(home: string): string {
  const script =
    // Types and names, not modes: a restore sets safe modes whatever the archive says (restore-modes.ts).
    "find data config.toml .env ! -name 'hoziron.db' -printf '%y %p\\0' | sort -z | tr '\\0' '\\n';" +
    " find data config.toml .env -type f ! -name 'hoziron.db' -print0 | sort -z | xargs -0 sha256sum";
  const r = spawnSync('bash', ['-c', script], { cwd: home, encoding: 'buffer' });
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout.toString('latin1'); // latin1: one char per byte, so nothing is merged
}

function archiveOf(home: string): string {
  const names = readdirSync(join(home, 'backups')).filter((n) => n.endsWith('.tar.gz'));
  expect(names).toHaveLength(1);
  return join(home, 'backups', names[0]!);
}

/** Entry names of an archive as Python's tarfile decodes them, as hex of their bytes. */
function pythonNames(archive: string): string[] {
  const r = spawnSync(
    'python3',
    ['-W', 'error', '-c', 'import os,sys,tarfile\nfor m in tarfile.open(sys.argv[1]): print(os.fsencode(m.name).hex())', archive],
    { encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n');
}

const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');

describe('names a Linux home may hold survive create, verify and restore', () => {
  it('round-trips Notes.md beside notes.md and both spellings of café byte-exact, warning once at create (issue 10 item 1)', async () => {
    const home = join(tmp.dir, 'case');
    await makeHome(home, 1);
    const a1 = join(home, 'data/agents/a1');
    mkdirSync(a1);
    writeFileSync(join(a1, 'Notes.md'), 'upper\n');
    writeFileSync(join(a1, 'notes.md'), 'lower\n');
    writeFileSync(join(a1, 'caf\u00e9'), 'nfc\n');
    writeFileSync(join(a1, 'cafe\u0301'), 'nfd\n');
    mkdirSync(join(home, 'data/memory/Dir'));
    writeFileSync(join(home, 'data/memory/Dir/x'), 'X\n');
    mkdirSync(join(home, 'data/memory/dir'));
    writeFileSync(join(home, 'data/memory/dir/x'), 'x\n');
    const before = treeDigest(home);

    const created = await cli(home, 'backup', 'create');
    expect(created.code, created.stderr).toBe(0);
    const warnings = created.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"data/agents/a1/Notes.md" and "data/agents/a1/notes.md"');
    expect(warnings[0]).toContain('"data/agents/a1/cafe\u0301" (NFD) and "data/agents/a1/caf\u00e9" (NFC)');
    expect(warnings[0]).toContain('"data/memory/Dir" and "data/memory/dir"');
    const archive = archiveOf(home);
    expect(pythonNames(archive)).toEqual(expect.arrayContaining([hex('data/agents/a1/caf\u00e9'), hex('data/agents/a1/cafe\u0301')]));

    const verified = await cli(home, 'backup', 'verify', archive);
    expect(verified.code, verified.stderr).toBe(0);

    rmSync(a1, { recursive: true });
    writeFileSync(join(home, 'data/memory/dir/x'), 'changed\n');
    const restored = await cli(home, 'backup', 'restore', archive, '--confirm');
    expect(restored.code, restored.stderr).toBe(0);
    expect(treeDigest(home)).toBe(before);
  });

  it('archives a name that is not UTF-8 byte-exact and restores it, never deleting one in the current home (issue 10 item 2)', async () => {
    const home = join(tmp.dir, 'bytes');
    await makeHome(home, 1);
    const a1 = join(home, 'data/agents/a1');
    mkdirSync(a1);
    const ff = Buffer.from([0xff, 0xfe, 0x2e, 0x74, 0x78, 0x74]); // "\xff\xfe.txt"
    writeFileSync(bytesPath(a1, ff), 'x');
    mkdirSync(bytesPath(a1, Buffer.from([0x64, 0xe9]))); // "d\xe9", Latin-1 é
    writeFileSync(bytesPath(a1, Buffer.from([0x64, 0xe9]), 'inner.md'), 'inner\n');
    // Too long for the ustar fields: a pax path with hdrcharset=BINARY.
    const long = Buffer.concat([Buffer.from('l'.repeat(130)), Buffer.from([0x80, 0x2e, 0x6d, 0x64])]);
    writeFileSync(bytesPath(a1, long), 'long\n');
    const before = treeDigest(home);

    const created = await cli(home, 'backup', 'create');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toBe(''); // nothing skipped, nothing to warn about
    const archive = archiveOf(home);
    const names = pythonNames(archive);
    for (const n of [
      Buffer.concat([Buffer.from('data/agents/a1/'), ff]),
      Buffer.concat([Buffer.from('data/agents/a1/d'), Buffer.from([0xe9])]),
      Buffer.concat([Buffer.from('data/agents/a1/d'), Buffer.from([0xe9]), Buffer.from('/inner.md')]),
      Buffer.concat([Buffer.from('data/agents/a1/'), long]),
    ])
      expect(names).toContain(n.toString('hex'));
    const manifest = JSON.parse(spawnSync('tar', ['-xzOf', archive, 'MANIFEST.json'], { encoding: 'utf8' }).stdout) as {
      files: { path: string; path_b64?: string }[];
    };
    expect(manifest.files.find((f) => f.path_b64 === Buffer.concat([Buffer.from('data/agents/a1/'), ff]).toString('base64'))?.path).toBe(
      'data/agents/a1/\\xff\\xfe.txt',
    );
    const gnu = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8' });
    expect(gnu.status).toBe(0);
    expect(gnu.stderr).toBe("tar: Ignoring unknown extended header keyword 'hdrcharset'\n"); // the long name only

    expect((await cli(home, 'backup', 'verify', archive)).code).toBe(0);

    // The current home loses the file and gains another name that is not UTF-8.
    unlinkSync(bytesPath(a1, ff));
    const stray = bytesPath(home, 'data/memory', Buffer.from([0x6e, 0x65, 0x77, 0xfe])); // "new\xfe"
    writeFileSync(stray, 'only in the current home\n');
    const plan = await cli(home, 'backup', 'restore', archive, '--json');
    expect(plan.code, plan.stderr).toBe(0);
    const changes = (JSON.parse(plan.stdout) as { changes: { added: { count: number }; removed: { count: number; bytes: number } } })
      .changes;
    expect(changes.added.count).toBe(1); // \xff\xfe.txt
    expect(changes.removed).toMatchObject({ count: 1, bytes: 25 }); // new\xfe is counted, not missed

    const restored = await cli(home, 'backup', 'restore', archive, '--confirm');
    expect(restored.code, restored.stderr).toBe(0);
    expect(treeDigest(home)).toBe(before);
    expect(existsSync(stray)).toBe(false);
    // ...but the safety backup holds it (made in the background from the state moved aside).
    expect(await waitForCleanup(home)).toBe(true);
    const safety = readdirSync(join(home, 'backups/pre-restore')).find((n) => n.endsWith('.tar.gz'))!;
    expect(pythonNames(join(home, 'backups/pre-restore', safety))).toContain(
      Buffer.concat([Buffer.from('data/memory/new'), Buffer.from([0xfe])]).toString('hex'),
    );
  });

  it('fails the create, naming the file, on a FIFO or a socket in the scope (never a silent skip)', async () => {
    const home = join(tmp.dir, 'special');
    await makeHome(home, 1);
    for (const [make, path, kind] of [
      [['mkfifo', join(home, 'data/agents/pipe')], 'data/agents/pipe', 'a FIFO'],
      [
        ['python3', '-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', join(home, 'data/memory/agent.sock')],
        'data/memory/agent.sock',
        'a socket',
      ],
    ] as const) {
      expect(spawnSync(make[0], make.slice(1)).status).toBe(0);
      const r = await cli(home, 'backup', 'create');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: cannot back up ${path}: it is ${kind}, which an archive cannot hold`);
      expect(readdirSync(join(home, 'backups')).filter((n) => !n.startsWith('.hoziron-backup.lock'))).toEqual([]);
      rmSync(join(home, path));
    }
  });
});
