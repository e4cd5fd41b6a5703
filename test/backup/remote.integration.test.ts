/**
 * Off-host copies through the real CLI against a real S3-protocol server on loopback
 * (test/support/s3-server.ts: s3rver behind a fault-injecting proxy). Proves: a create
 * leaves the archive and its sidecars on the server byte-identical and `list` says `both`;
 * a server killed mid-upload, 5xx answers, wrong credentials and a missing bucket each fail
 * the upload in one line while the create succeeds locally, the failure is recorded, and a
 * later create or push uploads everything with no unfinished multipart upload left; and the
 * disaster-recovery drill: an empty home with only init, the remote config and the identity
 * restores the newest remote backup to the original's state.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRecord, PushResult, RemoteStatus } from '../../src/api/types.js';
import { runCli } from '../support/cli.js';
import { S3_BUCKET, S3_KEY_ID, S3_SECRET, S3TestServer } from '../support/s3-server.js';
import { dumpDb, snapshotTree, waitForCleanup } from '../restore/support/home.js';
import { createJson, makeHome, type TestHome } from './helpers.js';

const PREFIX = 'site-a/backups';
let s3: S3TestServer;
let h: TestHome;
let key: string;
let recipient: string;

function configureRemote(home: string, endpoint: string, url = `s3://${S3_BUCKET}/${PREFIX}`, keyId = S3_KEY_ID, secret = S3_SECRET): void {
  const cfg = join(home, 'config.toml');
  const text = readFileSync(cfg, 'utf8')
    .replace(/^url = .*$/m, `url = ${JSON.stringify(url)}`)
    .replace(/^endpoint = .*$/m, `endpoint = ${JSON.stringify(endpoint)}`)
    .replace(/^force_path_style = .*$/m, 'force_path_style = true');
  writeFileSync(cfg, text);
  const env = join(home, '.env');
  const kept = readFileSync(env, 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('AWS_'))
    .join('\n');
  writeFileSync(env, `${kept.trimEnd()}\nAWS_ACCESS_KEY_ID=${keyId}\nAWS_SECRET_ACCESS_KEY=${secret}\n`, { mode: 0o600 });
}

function setRecipient(home: string, recipient: string): void {
  const cfg = join(home, 'config.toml');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^recipients = .*$/m, `recipients = ${JSON.stringify([recipient])}`));
}

function remoteState(home: string): RemoteStatus & { pending_aborts: unknown[] } {
  return JSON.parse(readFileSync(join(home, 'run', 'remote-state.json'), 'utf8')) as RemoteStatus & { pending_aborts: unknown[] };
}

async function listRemote(t: TestHome): Promise<BackupRecord[]> {
  const r = await t.cli('backup', 'list', '--remote', '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BackupRecord[];
}

function expectOnServer(r: BackupRecord): void {
  const file = r.file!;
  for (const name of [file, `${file}.sha256`, `${file}.json`]) {
    const stored = s3.objectBytes(`${PREFIX}/${name}`);
    expect(stored, name).toBeDefined();
    expect(stored!.equals(readFileSync(join(h.storage, name))), `${name} is byte-identical`).toBe(true);
  }
}

beforeAll(async () => {
  h = makeHome();
  s3 = await S3TestServer.start(join(h.dir, 's3'));
  key = join(h.dir, 'key.txt');
  const kg = await h.cli('backup', 'keygen', '--output', key);
  expect(kg.code, kg.stderr).toBe(0);
  recipient = kg.stdout.trim();
  setRecipient(h.home, recipient);
  // 12 MiB that does not compress: the archive is uploaded in several 5 MiB parts.
  writeFileSync(join(h.home, 'data', 'skills', 'package.bin'), randomBytes(12 * 1024 * 1024));
  configureRemote(h.home, s3.endpoint);
}, 60_000);

afterAll(async () => {
  await s3.stop();
  h.cleanup();
});

describe('upload after create', () => {
  it('leaves the archive and its sidecars on the server byte-identical, and list says both', async () => {
    const r = await createJson(h);
    expect(r.location).toBe('both');
    expect(r.upload).toEqual({ ok: true });
    expectOnServer(r);
    const listed = (await h.cli('backup', 'list', '--json')).stdout;
    expect((JSON.parse(listed) as BackupRecord[]).find((x) => x.id === r.id)?.location).toBe('both');
    const remote = await listRemote(h);
    expect(remote.map((x) => x.id)).toContain(r.id);
    expect(remote.find((x) => x.id === r.id)?.checksum).toBe(r.checksum);
    expect(s3.unfinishedUploads()).toEqual([]);
    expect(remoteState(h.home).failures).toBe(0);
    const audit = await h.cli('audit', 'tail', '-n', '5', '--json');
    expect(audit.stdout).toContain('backup.upload');
  });

  it('survives a few 500s (the SDK retries with backoff) and still uploads', async () => {
    s3.setFault({ kind: 'status', status: 500, count: 2 });
    const r = await createJson(h);
    expect(r.location).toBe('both');
    expect(s3.injected).toBeGreaterThanOrEqual(2);
    expectOnServer(r);
  });

  it('uploads over a slow link', async () => {
    s3.setFault({ kind: 'slow', ms: 2 });
    const r = await createJson(h);
    s3.setFault({ kind: 'none' });
    expect(r.location).toBe('both');
    expectOnServer(r);
  });
});

describe('failed uploads lose nothing', () => {
  it('a server killed mid-upload: the create succeeds locally, the failure is recorded, the next create uploads both', async () => {
    s3.setFault({ kind: 'die-after', bytes: 3 * 1024 * 1024 });
    const res = await h.cli('backup', 'create', '--json');
    expect(res.code, res.stderr).toBe(0);
    const first = JSON.parse(res.stdout) as BackupRecord;
    expect(existsSync(first.path)).toBe(true);
    expect(first.location).toBe('local');
    expect(first.upload?.ok).toBe(false);
    expect(
      res.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('warning: upload failed')),
    ).toHaveLength(1);
    expect(res.stderr).toMatch(/cannot reach|connection .* broke/);
    const state = remoteState(h.home);
    expect(state.pending).toEqual([first.file]);
    expect(state.last_attempt?.ok).toBe(false);
    expect(state.next_retry_at).not.toBeNull();

    await s3.restart();
    // The part the dead server took is still there as an unfinished upload, until the next run.
    const second = await createJson(h);
    expect(second.location).toBe('both');
    const remote = (await listRemote(h)).map((x) => x.id);
    expect(remote).toContain(first.id);
    expect(remote).toContain(second.id);
    expectOnServer(first);
    expectOnServer(second);
    expect(s3.unfinishedUploads()).toEqual([]);
    expect(remoteState(h.home).pending).toEqual([]);
    expect(remoteState(h.home).pending_aborts).toEqual([]);
  });

  it('a 503 storm fails the upload in one line; backup push uploads it later', async () => {
    s3.setFault({ kind: 'status', status: 503 });
    const r = await createJson(h);
    expect(r.location).toBe('local');
    expect(r.upload?.error).toMatch(/HTTP 503/);
    const pushFail = await h.cli('backup', 'push', r.id);
    expect(pushFail.code).toBe(1);
    expect(pushFail.stderr).toMatch(/^error: .*HTTP 503/m);
    s3.setFault({ kind: 'none' });
    const push = await h.cli('backup', 'push', '--all', '--json');
    expect(push.code, push.stderr).toBe(0);
    expect((JSON.parse(push.stdout) as PushResult).uploaded).toContain(r.file);
    expectOnServer(r);
    expect(s3.unfinishedUploads()).toEqual([]);
  });

  it('wrong credentials: one clear line without the secret, nothing changed locally', async () => {
    // s3rver checks the key id (its V4 signature check is not implemented): both are wrong here.
    const wrong = 'not-the-secret-123';
    const before = (await h.cli('backup', 'list', '--json')).stdout;
    configureRemote(h.home, s3.endpoint, undefined, 'AKIAWRONGKEYID', wrong);
    try {
      for (const args of [
        ['list', '--remote'],
        ['push', (JSON.parse(before) as BackupRecord[])[0]!.id],
      ]) {
        const r = await h.cli('backup', ...args);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(/^error: .*refused the credentials/m);
        expect(r.stderr).not.toContain(wrong);
        expect(r.stderr).not.toContain('AKIAWRONGKEYID');
        expect(
          r.stderr
            .trim()
            .split('\n')
            .filter((l) => l.startsWith('error:')),
        ).toHaveLength(1);
      }
    } finally {
      configureRemote(h.home, s3.endpoint);
    }
    expect((await h.cli('backup', 'list', '--json')).stdout).toBe(before);
  });

  it('a missing bucket is named as such', async () => {
    configureRemote(h.home, s3.endpoint, 's3://no-such-bucket/x');
    const r = await h.cli('backup', 'list', '--remote');
    expect(r.code).toBe(1);
    configureRemote(h.home, s3.endpoint);
    expect(r.stderr).toMatch(/^error: cannot list s3:\/\/no-such-bucket\/x: the bucket does not exist$/m);
  });

  it('refuses to upload a plaintext archive while require_encryption is on', async () => {
    const cfg = join(h.home, 'config.toml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^recipients = .*$/m, 'recipients = []'));
    const res = await h.cli('backup', 'create', '--agents-only', '--json');
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as BackupRecord;
    expect(r.upload?.error).toMatch(/not encrypted/);
    expect(s3.objectBytes(`${PREFIX}/${r.file}`)).toBeUndefined();
    const del = await h.cli('backup', 'delete', r.id);
    expect(del.code, del.stderr).toBe(0);
    setRecipient(h.home, recipient);
  });
});

describe('pull, delete --remote, and the disaster-recovery drill', () => {
  it('pull brings a remote-only backup back, verified; delete --remote removes the remote copy', async () => {
    const r = await createJson(h);
    const del = await h.cli('backup', 'delete', r.id);
    expect(del.code, del.stderr).toBe(0);
    const listed = JSON.parse((await h.cli('backup', 'list', '--json')).stdout) as BackupRecord[];
    expect(listed.find((x) => x.id === r.id)?.location).toBe('remote');
    const pull = await h.cli('backup', 'pull', r.id, '--json');
    expect(pull.code, pull.stderr).toBe(0);
    expect(readFileSync(r.path).equals(s3.objectBytes(`${PREFIX}/${r.file}`)!)).toBe(true);
    const verify = await h.cli('backup', 'verify', r.id, '--identity', key, '--json');
    expect(verify.code, verify.stderr).toBe(0);
    const rm = await h.cli('backup', 'delete', r.id, '--remote');
    expect(rm.code, rm.stderr).toBe(0);
    expect(s3.objectBytes(`${PREFIX}/${r.file}`)).toBeUndefined();
    expect(existsSync(r.path)).toBe(true);
  });

  it('an empty home with init, the remote config and the identity restores the newest remote backup', async () => {
    const newest = await createJson(h);
    expect(newest.location).toBe('both');
    const second = makeHome();
    try {
      const fresh = runCli(['--home', second.home, 'init', '--json']);
      expect(fresh.code).toBe(0);
      configureRemote(second.home, s3.endpoint);
      const remote = await listRemote(second);
      expect(remote[0]!.id).toBe(newest.id);
      const restore = await second.cli('backup', 'restore', remote[0]!.id, '--confirm', '--identity', key, '--json');
      expect(restore.code, restore.stderr).toBe(0);
      expect(await waitForCleanup(second.home)).toBe(true);
      const dbs = ['keys.db', 'audit.db', 'data/hoziron.db'];
      // Contents, not modes: a restore gives every file and folder its safe mode.
      const files = (root: string) =>
        Object.fromEntries(
          Object.entries(snapshotTree(root))
            .filter(([p]) => !dbs.includes(p))
            .map(([p, v]) => [p, v.replace(/^(file|dir) [0-7]+/, '$1')]),
        );
      expect(files(second.home)).toEqual(files(h.home));
      expect(dumpDb(join(second.home, 'keys.db'))).toEqual(dumpDb(join(h.home, 'keys.db')));
      expect(dumpDb(join(second.home, 'data/hoziron.db'))).toEqual(dumpDb(join(h.home, 'data/hoziron.db')));
      // The restored trail is the original's, plus the restore's own events after it.
      const mine = dumpDb(join(h.home, 'audit.db'));
      const theirs = dumpDb(join(second.home, 'audit.db'));
      const events = Object.keys(mine).find((t) => t !== 'user_version' && (mine[t]?.length ?? 0) > 0)!;
      expect(theirs[events]!.slice(0, 3)).toEqual(mine[events]!.slice(0, 3));
      const audit = await second.cli('audit', 'verify');
      expect(audit.code, audit.stderr).toBe(0);
    } finally {
      second.cleanup();
    }
  });

  it('remote retention keeps the newest N of each scope on the remote, and audits each deletion', async () => {
    const cfg = join(h.home, 'config.toml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^retention = 30$/m, 'retention = 1'));
    const newest = await createJson(h);
    expect(newest.location).toBe('both');
    const remote = await listRemote(h);
    expect(remote.filter((r) => r.scope === 'full').map((r) => r.id)).toEqual([newest.id]);
    const audit = await h.cli('audit', 'tail', '-n', '50', '--json');
    expect(audit.stdout).toMatch(/older than the newest 1 full backups on the remote/);
    // Local backups are the local retention's business: still there.
    expect((await h.cli('backup', 'list', '--json')).stdout).toContain(newest.id);
  });
});
