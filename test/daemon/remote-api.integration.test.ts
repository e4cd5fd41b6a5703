/**
 * The remote through the real daemon (127.0.0.1, port 0) and a real S3-protocol server on
 * loopback (s3rver behind the test's fault proxy): an API create whose upload fails still
 * succeeds, and the failure shows in `GET /v1/backup/status`, health (`upload_failed`, exit 1),
 * `/metrics` and `doctor`; push, pull, list with locations, delete of the remote copy and a
 * restore of a remote-only backup over the API, each role-checked; bad bodies get one clear 400.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupStatusResponse, HealthResponse } from '../../src/api/daemon.js';
import type { ApiError, BackupRecord, PushResult } from '../../src/api/types.js';
import { S3_BUCKET, S3_KEY_ID, S3_SECRET, S3TestServer } from '../support/s3-server.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

let s3: S3TestServer;
let t: TestHome;
let api: ApiClient;

beforeAll(async () => {
  s3 = await S3TestServer.start(join(tmpdir(), `hoziron-s3-${process.pid}-${Date.now()}`));
  t = makeHome([
    `url = "s3://${S3_BUCKET}/api"`,
    `endpoint = "${s3.endpoint}"`,
    'force_path_style = true',
    // Plaintext archives may go up here (the encrypted path is tested through the CLI).
    'require_encryption = false',
  ]);
  writeFileSync(t.home.env, `AWS_ACCESS_KEY_ID=${S3_KEY_ID}\nAWS_SECRET_ACCESS_KEY=${S3_SECRET}\n`, { mode: 0o600 });
  api = await startDaemon(t);
}, 60_000);

afterAll(async () => {
  await t.cleanup();
  await s3.stop();
  rmSync(s3.dir, { recursive: true, force: true });
});

describe('the remote over the API', () => {
  let failed: BackupRecord;

  it('a create whose upload fails succeeds, and status, health, metrics and doctor report the failure', async () => {
    s3.setFault({ kind: 'status', status: 503 });
    const create = await api.withToken(t.token('operator')).request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    expect(create.status).toBe(200);
    failed = create.body;
    expect(existsSync(failed.path)).toBe(true);
    expect(failed.location).toBe('local');
    expect(failed.upload).toMatchObject({ ok: false });
    expect(failed.upload?.error).toMatch(/HTTP 503/);

    const status = await api.withToken(t.token('viewer')).request<BackupStatusResponse>('GET', '/v1/backup/status');
    expect(status.status).toBe(200);
    expect(status.body.remote).toMatchObject({ url: `s3://${S3_BUCKET}/api`, pending: [failed.file], last_attempt: { ok: false } });
    expect(status.body.remote!.failures).toBeGreaterThanOrEqual(1);
    expect(status.body.remote!.next_retry_at).not.toBeNull();

    const health = await api.withToken(undefined).request<HealthResponse>('GET', '/v1/health');
    expect(health.body.status).toBe('degraded');
    expect(health.body.reasons.map((r) => r.code)).toContain('upload_failed');
    expect((await t.cliAsync(['health'])).code).toBe(1);

    const res = await fetch(`http://${api.address}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    const text = await res.text();
    expect(text).toMatch(/^hoziron_remote_pending_uploads 1$/m);
    expect(text).toMatch(/^hoziron_remote_last_upload_success 0$/m);

    const doctor = await t.cliAsync(['doctor', '--json']);
    const remoteLine = (JSON.parse(doctor.stdout) as { checks: { check: string; status: string; message: string }[] }).checks.find(
      (c) => c.check === 'remote',
    );
    expect(remoteLine?.status).toBe('warn');
    expect(remoteLine?.message).toMatch(/the last upload .* failed: .*HTTP 503/);
  });

  it('push is for operators; it uploads the pending backup and health is ok again', async () => {
    s3.setFault({ kind: 'none' });
    const viewer = await api.withToken(t.token('viewer')).request('POST', '/v1/backup/push', { all: true });
    expect(viewer.status).toBe(403);
    const bad = await api.withToken(t.token('operator')).request<ApiError>('POST', '/v1/backup/push', {});
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/exactly one of "id" or "all"/);
    const push = await api.withToken(t.token('operator')).request<PushResult>('POST', '/v1/backup/push', { all: true });
    expect(push.status).toBe(200);
    expect(push.body.uploaded).toContain(failed.file);
    expect(s3.objectBytes(`api/${failed.file}`)).toBeDefined();
    const health = await api.withToken(undefined).request<HealthResponse>('GET', '/v1/health');
    expect(health.body.reasons.map((r) => r.code)).not.toContain('upload_failed');
    const list = await api.request<BackupRecord[]>('GET', '/v1/backup/list');
    expect(list.body.find((r) => r.id === failed.id)?.location).toBe('both');
    const remoteOnly = await api.request<BackupRecord[]>('GET', '/v1/backup/list?remote=only');
    expect(remoteOnly.body.map((r) => r.id)).toEqual([failed.id]);
  });

  it('a restore of a backup that is only on the remote downloads it first; pull and delete ?remote=true are role-checked', async () => {
    const del = await api.request<{ deleted: BackupRecord }>('DELETE', `/v1/backup/${failed.id}`);
    expect(del.status).toBe(200);
    expect(existsSync(failed.path)).toBe(false);
    const listed = await api.request<BackupRecord[]>('GET', '/v1/backup/list');
    expect(listed.body.find((r) => r.id === failed.id)?.location).toBe('remote');

    const plan = await api.request<{ dry_run: boolean; restorable: boolean }>('POST', '/v1/backup/restore', {
      id: failed.id,
      dry_run: true,
    });
    expect(plan.status, JSON.stringify(plan.body)).toBe(200);
    expect(plan.body).toMatchObject({ dry_run: true, restorable: true });
    expect(existsSync(failed.path)).toBe(true);

    const again = await api.withToken(t.token('operator')).request<ApiError>('POST', '/v1/backup/pull', { id: failed.id });
    expect(again.status).toBe(409);

    const asOperator = await api.withToken(t.token('operator')).request('DELETE', `/v1/backup/${failed.id}?remote=true`);
    expect(asOperator.status).toBe(403);
    const remoteDel = await api.request<{ deleted: BackupRecord }>('DELETE', `/v1/backup/${failed.id}?remote=true`);
    expect(remoteDel.status).toBe(200);
    expect(s3.objectBytes(`api/${failed.file}`)).toBeUndefined();
    expect(existsSync(failed.path)).toBe(true);
    const missing = await api.withToken(t.token('operator')).request<ApiError>('POST', '/v1/backup/pull', { id: failed.id });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/^no backup ".*" on the remote s3:\/\/hoziron-test\/api$/);
  });
});
