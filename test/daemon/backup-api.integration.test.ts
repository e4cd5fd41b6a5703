import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStatusResponse, KvEntryResponse } from '../../src/api/daemon.js';
import type { ApiError, BackupRecord } from '../../src/api/types.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

const BACKUP_ROUTES: [string, string, unknown?][] = [
  ['POST', '/v1/backup/create', { scope: 'full' }],
  ['GET', '/v1/backup/list'],
  ['GET', '/v1/backup/status'],
  ['GET', '/v1/backup/00000000-0000-0000-0000-000000000000'],
  ['POST', '/v1/backup/verify', { id: '00000000-0000-0000-0000-000000000000' }],
  ['DELETE', '/v1/backup/00000000-0000-0000-0000-000000000000'],
  ['POST', '/v1/backup/restore', { id: '00000000-0000-0000-0000-000000000000' }],
];

function archives(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^hoziron-backup-.*\.tar\.gz$/.test(n)) : [];
}

describe('daemon backup API', () => {
  let t: TestHome;
  let api: ApiClient;
  beforeAll(async () => {
    t = makeHome();
    // Some bulk, so that a backup takes long enough for writes to overlap it.
    mkdirSync(t.home.path('data/skills/bulk'), { recursive: true });
    writeFileSync(t.home.path('data/skills/bulk/blob.bin'), randomBytes(16 * 1024 * 1024));
    api = await startDaemon(t);
  });
  afterAll(async () => t.cleanup());

  it('answers 401 on every backup route without a token', async () => {
    for (const [method, path, body] of BACKUP_ROUTES) {
      const r = await api.withToken(undefined).request<ApiError>(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
  });

  it('a viewer creating a backup gets 403 and no archive appears', async () => {
    const r = await api.withToken(t.token('viewer')).request<ApiError>('POST', '/v1/backup/create', { scope: 'full' });
    expect(r.status).toBe(403);
    expect(archives(t.home.defaultStorage)).toEqual([]);
  });

  let first: BackupRecord;
  let second: BackupRecord;
  it("an admin's create returns the documented record; list is newest first", async () => {
    const r = await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    expect(r.status).toBe(200);
    first = r.body;
    expect(Object.keys(first)).toEqual(expect.arrayContaining(['id', 'path', 'scope', 'created_at', 'checksum', 'size_bytes']));
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(first.scope).toBe('full');
    expect(first.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.path).toMatch(/hoziron-backup-\d{8}_\d{6}(-\d+)?\.tar\.gz$/);
    expect(existsSync(first.path)).toBe(true);
    second = (await api.withToken(t.token('operator')).request<BackupRecord>('POST', '/v1/backup/create', { scope: 'agents' })).body;
    expect(second.scope).toBe('agents');
    const list = await api.withToken(t.token('viewer')).request<BackupRecord[]>('GET', '/v1/backup/list');
    expect(list.status).toBe(200);
    expect(list.body.map((b) => b.id)).toEqual([second.id, first.id]);
  });

  it('shows a record with its manifest, verifies it and reports status', async () => {
    const show = await api.request<BackupRecord & { manifest: { file_count: number } }>('GET', `/v1/backup/${first.id}`);
    expect(show.status).toBe(200);
    expect(show.body.manifest.file_count).toBeGreaterThan(0);
    const verify = await api.request<{ ok: boolean }>('POST', '/v1/backup/verify', { id: first.id });
    expect(verify.status).toBe(200);
    expect(verify.body.ok).toBe(true);
    const status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    expect(status.body.last_success?.id).toBe(second.id);
    expect(status.body.last_attempt).toMatchObject({ ok: true, error: null });
    expect(status.body.next_run).not.toBeNull();
    expect(status.body.storage.archives).toBe(2);
    expect((await api.request<ApiError>('GET', '/v1/backup/ffffffff-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('bad JSON and an oversized body on create get 400 and 413, and no archive', async () => {
    const before = archives(t.home.defaultStorage).length;
    const bad = await api.request<ApiError>('POST', '/v1/backup/create', undefined, { body: '{"scope": ' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_request');
    const scope = await api.request<ApiError>('POST', '/v1/backup/create', { scope: 'everything' });
    expect(scope.status).toBe(400);
    const big = await api.request<ApiError>('POST', '/v1/backup/create', { scope: 'full', pad: 'x'.repeat(1024 * 1024) });
    expect(big.status).toBe(413);
    expect(archives(t.home.defaultStorage).length).toBe(before);
  });

  it('keeps accepting writes during a backup, and every write acknowledged before it is in the archive', async () => {
    const acked: string[] = [];
    const failures: string[] = [];
    let stopWriting = false;
    let n = 0;
    const writer = (async () => {
      while (!stopWriting) {
        const key = `k${n++}`;
        const r = await api.request('PUT', `/v1/agents/writer/kv/${key}`, { value: { n, at: Date.now() } });
        if (r.status === 200) acked.push(key);
        else failures.push(`${key}: ${r.status}`);
      }
    })();
    while (acked.length < 20) await new Promise((r) => setTimeout(r, 10));
    const ackedBefore = acked.length;
    const backup = await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    const duringBackup = acked.length - ackedBefore;
    stopWriting = true;
    await writer;
    expect(backup.status).toBe(200);
    expect(failures).toEqual([]);
    expect(duringBackup).toBeGreaterThan(0);
    const out = join(t.root, 'extract');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', backup.body.path, '-C', out]);
    const db = new Database(join(out, 'data', 'hoziron.db'), { readonly: true });
    const keys = new Set((db.prepare("SELECT key FROM kv WHERE agent = 'writer'").all() as { key: string }[]).map((r) => r.key));
    db.close();
    const missing = acked.slice(0, ackedBefore).filter((k) => !keys.has(k));
    expect(missing).toEqual([]);
  });

  it("a backup's warnings reach the daemon log; a create while another process holds the backup lock is 409", async () => {
    const link = t.home.path('data/agents/link-to-hostname');
    symlinkSync('/etc/hostname', link);
    try {
      expect((await api.request('POST', '/v1/backup/create', { scope: 'agents' })).status).toBe(200);
    } finally {
      unlinkSync(link);
    }
    expect(readFileSync(t.home.daemonLog, 'utf8')).toContain('warn backup: data/agents/link-to-hostname is a symbolic link; not archived');
    const before = archives(t.home.defaultStorage).length;
    const lock = join(t.home.defaultStorage, '.hoziron-backup.lock');
    // This test process is alive, so its lock is honoured.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, operation: 'create', started_at: new Date().toISOString(), token: 'test' }));
    try {
      const r = await api.request<ApiError>('POST', '/v1/backup/create', { scope: 'full' });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('conflict');
      expect(r.body.error.message).toMatch(`another backup operation is running: create (pid ${process.pid}`);
    } finally {
      unlinkSync(lock);
    }
    expect(archives(t.home.defaultStorage).length).toBe(before);
  });

  it('refuses a file outside the storage path, changing nothing', async () => {
    await api.request('PUT', '/v1/agents/a/kv/state', { value: 'current' });
    const outside = join(t.root, 'outside.tar.gz');
    copyFileSync(first.path, outside);
    copyFileSync(`${first.path}.sha256`, `${outside}.sha256`);
    const r = await api.request<ApiError>('POST', '/v1/backup/restore', { file: outside });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/outside the backup storage path/);
    const sneaky = await api.request<ApiError>('POST', '/v1/backup/restore', { file: `${t.home.defaultStorage}/../../outside.tar.gz` });
    expect(sneaky.status).toBe(400);
    expect(existsSync(join(t.home.defaultStorage, 'pre-restore'))).toBe(false);
    expect((await api.request<KvEntryResponse>('GET', '/v1/agents/a/kv/state')).body.value).toBe('current');
  });

  it('a dry run returns the plan and changes nothing', async () => {
    const r = await api.request<{ dry_run: boolean; restorable: boolean }>('POST', '/v1/backup/restore', { id: first.id, dry_run: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ dry_run: true, restorable: true });
    expect((await api.request<KvEntryResponse>('GET', '/v1/agents/a/kv/state')).body.value).toBe('current');
  });

  it('an archive without its checksum sidecar is refused with a hint in API terms, never a CLI flag', async () => {
    const sidecar = `${first.path}.sha256`;
    renameSync(sidecar, `${sidecar}.aside`);
    try {
      for (const body of [{ file: first.path, dry_run: true }, { file: first.path }]) {
        const r = await api.request<ApiError>('POST', '/v1/backup/restore', body);
        expect(r.status).toBe(422);
        expect(r.body.error.code).toBe('archive_invalid');
        expect(r.body.error.message).toMatch(/no recorded checksum/);
        expect(r.body.error.hint).toMatch(/"checksum": "sha256:<hex>".*"verify": false/);
        expect(JSON.stringify(r.body)).not.toMatch(/--[a-z]|`hoziron /);
      }
      expect(existsSync(join(t.home.defaultStorage, 'pre-restore'))).toBe(false);
      expect((await api.request<KvEntryResponse>('GET', '/v1/agents/a/kv/state')).body.value).toBe('current');
    } finally {
      renameSync(`${sidecar}.aside`, sidecar);
    }
  });

  it('a viewer or operator cannot restore or delete', async () => {
    const op = api.withToken(t.token('operator'));
    expect((await op.request('POST', '/v1/backup/restore', { id: first.id })).status).toBe(403);
    expect((await op.request('DELETE', `/v1/backup/${first.id}`)).status).toBe(403);
  });

  it('restores by id while running, then keeps answering on the restored state', async () => {
    // "state" did not exist when `first` was taken: after the restore it is gone again.
    const restoring = api.request<{ dry_run: boolean; safety_backup: BackupRecord | null }>('POST', '/v1/backup/restore', { id: first.id });
    let done = false;
    void restoring.finally(() => (done = true));
    // Meanwhile other routes answer 503 with Retry-After (health keeps answering).
    const seen: { status: number; retryAfter: string | null; health: string }[] = [];
    while (!done) {
      const w = await api.request('GET', '/v1/agents/a/kv/state');
      const h = await api.request<{ status: string }>('GET', '/v1/health');
      seen.push({ status: w.status, retryAfter: w.headers.get('retry-after'), health: h.body.status });
      await new Promise((res) => setTimeout(res, 20));
    }
    const r = await restoring;
    expect(r.status).toBe(200);
    expect(seen.filter((x) => x.status !== 200 && x.status !== 503 && x.status !== 404)).toEqual([]);
    const gated = seen.filter((x) => x.status === 503);
    expect(gated.length).toBeGreaterThan(0);
    expect(gated[0]!.retryAfter).toMatch(/^\d+$/);
    expect(seen.some((x) => x.health === 'restoring')).toBe(true);
    expect(r.body.dry_run).toBe(false);
    expect(r.body.safety_backup?.scope).toBe('pre-restore');
    expect((await api.request('GET', '/v1/health')).status).toBe(200);
    expect((await api.request('GET', '/v1/agents/a/kv/state')).status).toBe(404);
    expect((await api.request('PUT', '/v1/agents/a/kv/after', { value: 1 })).status).toBe(200);
    expect((await api.request<BackupRecord[]>('GET', '/v1/backup/list')).status).toBe(200);
  });

  it('an admin deletes a backup by id', async () => {
    const r = await api.request<{ deleted: BackupRecord }>('DELETE', `/v1/backup/${second.id}`);
    expect(r.status).toBe(200);
    expect(existsSync(second.path)).toBe(false);
    expect((await api.request('GET', `/v1/backup/${second.id}`)).status).toBe(404);
  });
});
