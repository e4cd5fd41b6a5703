import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { tempDir } from '../support/cli.js';
import { ownerRecord } from '../support/owner.js';
import { cli, dumpDb, makeHome, snapshotTree, waitForCleanup } from './support/home.js';
import {
  agentsFiles,
  baseDirs,
  baseFiles,
  entriesFor,
  manifestFor,
  sha256,
  tarBytes,
  writeArchive,
  type RawEntry,
} from './support/archives.js';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('hoziron-restore-');
});
afterAll(() => tmp.cleanup());

async function freshHome(name: string): Promise<string> {
  const home = join(tmp.dir, name);
  await makeHome(home);
  return home;
}

describe('hoziron backup restore: round trip', () => {
  it('restores every file byte-identical and databases equal, lists the safety backup, audits the restore', async () => {
    const home = await freshHome('roundtrip');
    const created = await cli(home, 'backup', 'create', '--json');
    expect(created.stderr).toBe('');
    const record = JSON.parse(created.stdout) as { id: string; path: string };
    const before = snapshotTree(home);
    const dbsBefore = { keys: dumpDb(join(home, 'keys.db')), mem: dumpDb(join(home, 'data/hoziron.db')) };

    // Change the home in every way: config, agents added and deleted, memory files, rows.
    appendFileSync(join(home, 'config.toml'), '\n# edited after the backup\n');
    rmSync(join(home, 'data/agents/agent-0'), { recursive: true });
    mkdirSync(join(home, 'data/agents/agent-new'));
    writeFileSync(join(home, 'data/agents/agent-new/agent.toml'), 'name = "new"\n');
    rmSync(join(home, 'data/memory/mem-1.md'));
    writeFileSync(join(home, 'data/memory/added.md'), 'added\n');
    const db = new Database(join(home, 'data/hoziron.db'));
    db.prepare("INSERT INTO kv VALUES ('agent-9', 'late', '1', '2026-02-02T00:00:00Z')").run();
    db.close();
    expect((await cli(home, 'key', 'create', '--role', 'viewer', '--json')).code).toBe(0);
    writeFileSync(join(home, 'data/hoziron.db-wal'), 'a stale WAL that must never be replayed');

    const r = await cli(home, 'backup', 'restore', record.path, '--confirm', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as {
      dry_run: boolean;
      safety_backup: { id: string; scope: string };
      timings: { restore_ms: number };
    };
    expect(result.dry_run).toBe(false);
    // The old state is archived as the safety backup, then deleted, in the background after
    // the command returns; the tree is compared once that is done.
    expect(await waitForCleanup(home)).toBe(true);

    // Every file is byte-identical to the archived content (extracted by the system's tar);
    // files that are not databases are also byte-identical to the home when it was backed up.
    const extracted = join(tmp.dir, 'roundtrip-tar');
    mkdirSync(extracted);
    expect(spawnSync('tar', ['-xzf', record.path, '-C', extracted]).status).toBe(0);
    const archived = snapshotTree(extracted, ['MANIFEST.json']);
    const after = snapshotTree(home);
    for (const [path, entry] of Object.entries(archived)) {
      if (path === 'audit.db') continue; // one event longer: checked below
      expect(after[path]?.replace(/^(\w+) \d+/, '$1'), path).toBe(entry.replace(/^(\w+) \d+/, '$1'));
    }
    // Directories come back 0700 whatever their mode was (docs/format.md#modes).
    const dirsPrivate = (entry: string) => entry.replace(/^dir \d+$/, 'dir 700');
    for (const [path, entry] of Object.entries(before)) {
      if (!path.endsWith('.db')) expect(after[path], path).toBe(path === 'data' ? entry : dirsPrivate(entry));
    }
    expect(Object.keys(after).filter((p) => !(p in before))).toEqual([]);
    expect(dumpDb(join(home, 'keys.db'))).toEqual(dbsBefore.keys);
    expect(dumpDb(join(home, 'data/hoziron.db'))).toEqual(dbsBefore.mem);
    const events = dumpDb(join(home, 'audit.db')).events as { seq: number; action: string; detail: string }[];
    const auditArchived = dumpDb(join(extracted, 'audit.db')).events as unknown[];
    expect(events.slice(0, auditArchived.length)).toEqual(auditArchived);
    // The restore, then the safety backup made after it from the state it moved aside (its
    // create also records the restored archive's own create, which the archive cannot hold).
    const added = events.slice(auditArchived.length);
    expect(added[0]!.action).toBe('backup.restore');
    expect(JSON.parse(added[0]!.detail)).toMatchObject({ archive_id: record.id, safety_backup_id: result.safety_backup.id });
    expect(added.filter((e) => e.action === 'backup.restore')).toHaveLength(1);
    expect(added.filter((e) => e.action === 'backup.create' && (e as { target?: string }).target === result.safety_backup.id)).toHaveLength(
      1,
    );
    expect(added.every((e) => e.action === 'backup.restore' || e.action === 'backup.create')).toBe(true);
    expect((await cli(home, 'audit', 'verify')).code).toBe(0);

    const list = JSON.parse((await cli(home, 'backup', 'list', '--json')).stdout) as { id: string; scope: string }[];
    expect(list.find((b) => b.id === result.safety_backup.id)?.scope).toBe('pre-restore');
  });

  it('a dry run verifies, prints the plan and leaves the home byte-identical', async () => {
    const home = await freshHome('dryrun');
    const record = JSON.parse((await cli(home, 'backup', 'create', '--json')).stdout) as { id: string; path: string };
    writeFileSync(join(home, 'data/memory/after.md'), 'after\n');
    rmSync(join(home, 'data/memory/mem-0.md'));
    const before = snapshotTree(home, []);
    const r = await cli(home, 'backup', 'restore', record.id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Dry run/);
    expect(r.stdout).toMatch(new RegExp(record.id));
    expect(r.stdout).toMatch(/added: +1 files/);
    expect(r.stdout).toMatch(/removed: +1 files/);
    const j = await cli(home, 'backup', 'restore', record.path, '--json');
    expect(JSON.parse(j.stdout)).toMatchObject({ dry_run: true, restorable: true, archive: { id: record.id, scope: 'full' } });
    expect(snapshotTree(home, [])).toEqual(before);
  });

  it('an agents archive replaces only the agents scope', async () => {
    const home = await freshHome('agents');
    const record = JSON.parse((await cli(home, 'backup', 'create', '--agents-only', '--json')).stdout) as { path: string };
    appendFileSync(join(home, 'config.toml'), '\n# kept\n');
    writeFileSync(join(home, 'data/workflows/kept.yaml'), 'kept\n');
    writeFileSync(join(home, 'data/agents/agent-1/state.json'), '{"state":"changed"}\n');
    const keep = snapshotTree(home);
    expect((await cli(home, 'backup', 'restore', record.path, '--confirm')).code).toBe(0);
    await waitForCleanup(home);
    const after = snapshotTree(home);
    for (const p of ['config.toml', '.env', 'keys.db', 'data/workflows/kept.yaml']) expect(after[p], p).toBe(keep[p]);
    expect(readFileSync(join(home, 'data/agents/agent-1/state.json'), 'utf8')).toBe('{"state":"idle","n":1}\n');
  });

  it('makes the safety backup after the swap: listed as pending, waited for by the next backup and by its own restore', async () => {
    const home = await freshHome('safety-after');
    const record = JSON.parse((await cli(home, 'backup', 'create', '--json')).stdout) as { id: string; path: string };
    writeFileSync(join(home, 'data/memory/mem-1.md'), 'changed before the restore\n');
    const r = await cli(home, 'backup', 'restore', record.id, '--confirm', '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { safety_backup: { id: string; pending?: boolean; path: string; scope: string } };
    expect(result.safety_backup).toMatchObject({ pending: true, scope: 'pre-restore' });
    // Listed at once, pending or (on a fast machine) already complete, never twice.
    const listed = JSON.parse((await cli(home, 'backup', 'list', '--json')).stdout) as { id: string; pending?: boolean }[];
    expect(listed.filter((b) => b.id === result.safety_backup.id)).toHaveLength(1);
    // A backup right after the restore waits for the safety backup's lock instead of being refused.
    const next = await cli(home, 'backup', 'create', '--json');
    expect(next.code, next.stderr).toBe(0);
    // Restoring the safety backup by id waits for it to be complete, and brings the change back.
    const undo = await cli(home, 'backup', 'restore', result.safety_backup.id, '--confirm');
    expect(undo.code, undo.stderr).toBe(0);
    expect(readFileSync(join(home, 'data/memory/mem-1.md'), 'utf8')).toBe('changed before the restore\n');
    expect(existsSync(result.safety_backup.path)).toBe(true);
    expect(await waitForCleanup(home)).toBe(true);
    const list = JSON.parse((await cli(home, 'backup', 'list', '--json')).stdout) as { id: string; pending?: boolean }[];
    expect(list.filter((b) => b.pending)).toEqual([]);
  });

  it('keeps the three newest safety backups, whatever [backup] retention says, and never counts them against it', async () => {
    const home = await freshHome('pre-restore-retention');
    const config = join(home, 'config.toml');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^retention = .*$/m, 'retention = 1'));
    expect(readFileSync(config, 'utf8')).toMatch(/^retention = 1$/m);
    const record = JSON.parse((await cli(home, 'backup', 'create', '--json')).stdout) as { id: string; path: string };
    const safety: string[] = [];
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(home, 'data/memory/mem-1.md'), `change ${i}\n`);
      const r = await cli(home, 'backup', 'restore', record.id, '--confirm', '--json');
      expect(r.code, r.stderr).toBe(0);
      safety.push((JSON.parse(r.stdout) as { safety_backup: { id: string } }).safety_backup.id);
      await waitForCleanup(home);
    }
    const list = JSON.parse((await cli(home, 'backup', 'list', '--json')).stdout) as { id: string; scope: string }[];
    expect(
      list
        .filter((b) => b.scope === 'pre-restore')
        .map((b) => b.id)
        .sort(),
    ).toEqual(safety.slice(1).sort());
    expect(list.filter((b) => b.scope !== 'pre-restore').map((b) => b.id)).toEqual([record.id]);
    // Undo the last restore with one command: the newest safety backup holds the change made before it.
    expect((await cli(home, 'backup', 'restore', safety[3]!, '--confirm')).code).toBe(0);
    expect(readFileSync(join(home, 'data/memory/mem-1.md'), 'utf8')).toBe('change 3\n');
  });

  it('with a daemon that runs but does not answer, refuses and changes nothing; --force no longer exists', async () => {
    const home = await freshHome('daemon');
    const record = JSON.parse((await cli(home, 'backup', 'create', '--agents-only', '--json')).stdout) as { path: string };
    mkdirSync(join(home, 'run'), { recursive: true });
    // The lock says a daemon runs (this test process, as its owner); the pid file says where.
    writeFileSync(join(home, 'run/daemon.lock'), JSON.stringify({ ...ownerRecord(), operation: 'daemon' }));
    writeFileSync(
      join(home, 'run/hoziron.pid'),
      JSON.stringify({ pid: process.pid, address: '127.0.0.1:1', started_at: new Date().toISOString() }),
    );
    const before = snapshotTree(home);
    const r = await cli(home, 'backup', 'restore', record.path, '--confirm');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the daemon does not answer at http:\/\/127\.0\.0\.1:1/m);
    expect(r.stderr).toMatch(/hint: .*hoziron status/);
    expect(snapshotTree(home)).toEqual(before);
    // The dry run verifies here and says the confirmed restore would go through the daemon.
    const dry = await cli(home, 'backup', 'restore', record.path);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/warning: the daemon \(pid \d+\) runs on this home: a confirmed restore goes through it/);
    const force = await cli(home, 'backup', 'restore', record.path, '--confirm', '--force');
    expect(force.code).toBe(2);
    expect(force.stderr).toMatch(/unknown option '--force'/);
    expect(snapshotTree(home)).toEqual(before);
  });
});

describe('hoziron backup restore: versions', () => {
  it('refuses an archive of a newer format with a hint, before extracting', async () => {
    const home = await freshHome('format2');
    const files = baseFiles();
    const path = writeArchive(
      join(tmp.dir, 'format2.tar.gz'),
      await tarBytes(entriesFor(files), { ...manifestFor(files, baseDirs), format: 2 }),
    );
    const r = await cli(home, 'backup', 'restore', path, '--confirm');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/format 2 is newer/);
    expect(r.stderr).toMatch(/hint: upgrade hoziron/);
  });

  it('migrates a database with an older schema (user_version) forward', async () => {
    const home = await freshHome('older');
    const dbPath = join(tmp.dir, 'old-memory.db');
    const old = new Database(dbPath);
    old.exec('CREATE TABLE legacy (x)');
    old.pragma('user_version = 0');
    old.close();
    const files = [...baseFiles(), { path: 'data/hoziron.db', content: readFileSync(dbPath), mode: 0o600 }];
    const path = writeArchive(join(tmp.dir, 'older.tar.gz'), await tarBytes(entriesFor(files), manifestFor(files, baseDirs)));
    const r = await cli(home, 'backup', 'restore', path, '--confirm');
    expect(r.stderr).toBe('');
    const after = dumpDb(join(home, 'data/hoziron.db'));
    expect(after.user_version).toEqual([1]);
    expect(after).toHaveProperty('kv');
    expect(after).toHaveProperty('legacy');
  });
});

describe('hoziron backup restore: hostile and damaged archives change nothing', () => {
  let home: string;
  let outside: string;
  let snapshot: Record<string, string>;
  beforeAll(async () => {
    home = await freshHome('hostile');
    outside = join(tmp.dir, 'outside');
    mkdirSync(outside);
    snapshot = snapshotTree(home, []);
  });

  const files = agentsFiles();
  const manifest = () => manifestFor(files, baseDirs);
  type Case = [string, () => Promise<Buffer | string>, RegExp];
  const withEntry = (e: RawEntry) => async () => tarBytes([...entriesFor(files), e], manifest());
  const cases: Case[] = [
    ['absolute path', withEntry({ name: '/tmp/hoziron-pwned', content: 'x' }), /absolute path/],
    ['.. traversal', withEntry({ name: 'data/memory/../../../outside/pwned', content: 'x' }), /'\.\.'/],
    ['symlink to outside', withEntry({ name: 'data/memory/link', type: 'symlink', linkname: '/tmp' }), /symbolic link/],
    [
      'escape through a symlink',
      async () => {
        const evil = { path: 'data/memory/link/pwned', content: 'x' };
        return tarBytes(
          [
            ...entriesFor(files),
            { name: 'data/memory/link', type: 'symlink', linkname: '../../../outside' },
            { name: evil.path, content: 'x' },
          ],
          manifestFor([...files, evil], baseDirs),
        );
      },
      /symbolic link/,
    ],
    ['hard link', withEntry({ name: 'data/memory/hard', type: 'link', linkname: '/etc/passwd' }), /hard link/],
    ['device', withEntry({ name: 'data/memory/dev', type: 'block-device' }), /device/],
    ['FIFO', withEntry({ name: 'data/memory/fifo', type: 'fifo' }), /FIFO/],
    ['unlisted entry', withEntry({ name: 'data/memory/extra', content: 'x' }), /not listed/],
    ['duplicate entry', withEntry({ name: files[0]!.path, content: files[0]!.content }), /appears twice/],
    [
      'size mismatch',
      async () => {
        const m = manifest();
        m.files[2]!.size = 3;
        return tarBytes(entriesFor(files), m);
      },
      /bytes but MANIFEST.json says 3/,
    ],
    [
      'hash mismatch',
      async () =>
        tarBytes(
          entriesFor(files.map((f) => ({ ...f, content: typeof f.content === 'string' ? f.content.toUpperCase() : f.content }))),
          manifest(),
        ),
      /SHA-256/,
    ],
    [
      'pax/ustar size disagreement',
      async () => {
        const e = entriesFor(files);
        e[e.length - 1]!.pax = { size: '2' };
        return tarBytes(e, manifest());
      },
      /disagree/,
    ],
    [
      'path outside the scope',
      async () => {
        const fs2 = [...files, { path: 'run/hoziron.pid', content: '1' }];
        return tarBytes(entriesFor(fs2), manifestFor(fs2, baseDirs));
      },
      /outside the agents backup scope/,
    ],
    ['truncated archive', async () => 'truncate', /truncated/],
    ['bit-flipped archive', async () => 'flip', /corrupt|checksum mismatch|SHA-256/],
  ];

  for (const [name, build, pattern] of cases) {
    it(`refuses an archive with: ${name} (with and without --no-verify)`, async () => {
      const path = join(tmp.dir, `hostile-${name.replace(/\W+/g, '-')}.tar.gz`);
      const built = await build();
      if (typeof built === 'string') {
        const big = [
          ...files,
          { path: 'data/memory/big.txt', content: Array.from({ length: 20_000 }, (_, i) => `line ${i * 7919}`).join('\n') },
        ];
        writeArchive(path, await tarBytes(entriesFor(big), manifestFor(big, baseDirs)));
        const gz = readFileSync(path);
        if (built === 'truncate') writeFileSync(path, gz.subarray(0, gz.length - 3000));
        else {
          gz[Math.floor(gz.length * 0.6)]! ^= 0x04;
          writeFileSync(path, gz);
        }
      } else writeArchive(path, built);
      for (const flags of [[], ['--no-verify']]) {
        const r = await cli(home, 'backup', 'restore', path, '--confirm', ...flags);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(pattern);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(snapshotTree(home, [])).toEqual(snapshot);
        expect(readdirSync(outside)).toEqual([]);
        expect(existsSync('/tmp/hoziron-pwned')).toBe(false);
      }
    });
  }

  it('refuses an archive without a checksum sidecar, with a hint in CLI terms: --no-verify', async () => {
    const path = writeArchive(join(tmp.dir, 'no-sidecar.tar.gz'), await tarBytes(entriesFor(files), manifest()));
    rmSync(`${path}.sha256`, { force: true });
    const r = await cli(home, 'backup', 'restore', path, '--confirm');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*no recorded checksum \(no no-sidecar\.tar\.gz\.sha256 beside it\)/m);
    expect(r.stderr).toMatch(/^hint: pass --checksum sha256:<hex> .*or --no-verify/m);
    expect(snapshotTree(home, [])).toEqual(snapshot);
  });

  it('refuses an archive whose checksum sidecar disagrees, but --no-verify skips only that', async () => {
    const path = writeArchive(join(tmp.dir, 'sidecar.tar.gz'), await tarBytes(entriesFor(files), manifest()));
    writeFileSync(`${path}.sha256`, `${sha256('other')}  sidecar.tar.gz\n`);
    const r = await cli(home, 'backup', 'restore', path, '--confirm');
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(snapshotTree(home, [])).toEqual(snapshot);
    const dry = await cli(home, 'backup', 'restore', path, '--no-verify');
    expect(dry.code).toBe(0);
    expect(snapshotTree(home, [])).toEqual(snapshot);
  });
});
