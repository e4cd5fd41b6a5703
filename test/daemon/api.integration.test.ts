import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiError } from '../../src/api/types.js';
import type { KvEntryResponse, KvListResponse } from '../../src/api/daemon.js';
import { MAX_JSON_DEPTH } from '../../src/daemon/server.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

describe('daemon API: auth, errors and live state', () => {
  let t: TestHome;
  let api: ApiClient;
  beforeAll(async () => {
    t = makeHome();
    api = await startDaemon(t);
  });
  afterAll(async () => t.cleanup());

  it('answers health without a token', async () => {
    const r = await api.withToken(undefined).request('GET', '/v1/health');
    expect(r.status).toBe(200);
  });

  it('401 without a token or with a wrong one; 403 for a viewer on an operator route', async () => {
    const none = await api.withToken(undefined).request<ApiError>('PUT', '/v1/agents/a/kv/k', { value: 1 });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const wrong = await api.withToken(`hzk_${'0'.repeat(16)}_${'A'.repeat(43)}`).request<ApiError>('GET', '/v1/agents/a/kv');
    expect(wrong.status).toBe(401);
    const viewer = await api.withToken(t.token('viewer')).request<ApiError>('PUT', '/v1/agents/a/kv/k', { value: 1 });
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('forbidden');
  });

  it('PUT, GET, list and DELETE a key; 404 for a missing key', async () => {
    const op = api.withToken(t.token('operator'));
    const put = await op.request<KvEntryResponse>('PUT', '/v1/agents/agent-1/kv/greeting%2Fen', { value: { text: 'hi', n: [1, 2] } });
    expect(put.status).toBe(200);
    const got = await op.request<KvEntryResponse>('GET', '/v1/agents/agent-1/kv/greeting%2Fen');
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ key: 'greeting/en', value: { text: 'hi', n: [1, 2] }, updated_at: put.body.updated_at });
    await op.request('PUT', '/v1/agents/agent-1/kv/nothing', { value: null });
    const list = await op.request<KvListResponse>('GET', '/v1/agents/agent-1/kv');
    expect(list.body.entries.map((e) => e.key)).toEqual(['greeting/en', 'nothing']);
    expect((await op.request('DELETE', '/v1/agents/agent-1/kv/nothing')).status).toBe(204);
    const missing = await op.request<ApiError>('GET', '/v1/agents/agent-1/kv/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('appends a session message', async () => {
    const r = await api.request<{ id: number; session: string }>('POST', '/v1/agents/agent-1/sessions', {
      session: 's1',
      role: 'user',
      content: 'hello',
    });
    expect(r.status).toBe(201);
    expect(r.body.session).toBe('s1');
  });

  it('bad JSON, a missing field, a non-JSON type and an oversized body get clear envelopes and change nothing', async () => {
    const path = '/v1/agents/agent-2/kv/k';
    const bad = await api.request<ApiError>('PUT', path, undefined, { body: '{"value":' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'bad_request', message: 'request body is not valid JSON' });
    const field = await api.request<ApiError>('PUT', path, { valu: 1 });
    expect(field.status).toBe(400);
    expect(field.body.error.message).toMatch(/value/);
    const extra = await api.request<ApiError>('PUT', path, { value: 1, other: 2 });
    expect(extra.status).toBe(400);
    const text = await api.request<ApiError>('PUT', path, undefined, { body: 'x', type: 'text/plain' });
    expect(text.status).toBe(415);
    const big = await api.request<ApiError>('PUT', path, { value: 'a'.repeat(1024 * 1024 + 10) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('too_large');
    const badAgent = await api.request<ApiError>('GET', '/v1/agents/..%2Fx/kv');
    expect(badAgent.status).toBe(400);
    expect((await api.request('GET', path)).status).toBe(404);
    const unknown = await api.request<ApiError>('GET', '/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });

  it('takes agent names up to 128 and keys up to 512 characters, and refuses longer ones in the error envelope', async () => {
    const agent = `a${'b'.repeat(127)}`;
    const key = 'k'.repeat(512);
    const ok = await api.request<KvEntryResponse>('PUT', `/v1/agents/${agent}/kv/${key}`, { value: 1 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await api.request<KvEntryResponse>('GET', `/v1/agents/${agent}/kv/${key}`)).body.value).toBe(1);
    // Non-ASCII keys count characters, not percent-encoded bytes.
    const wide = 'é'.repeat(512);
    expect((await api.request('PUT', `/v1/agents/${agent}/kv/${encodeURIComponent(wide)}`, { value: 2 })).status).toBe(200);

    const refusals: [string, string][] = [
      ['PUT', `/v1/agents/${agent}b/kv/k`],
      ['PUT', `/v1/agents/a1/kv/${key}k`],
      ['GET', `/v1/agents/${'x'.repeat(5000)}/kv`],
    ];
    for (const [method, path] of refusals) {
      const long = await api.request<ApiError>(method, path, method === 'PUT' ? { value: 1 } : undefined);
      const label = `${method} ${path.slice(0, 40)}… (${path.length} chars)`;
      expect(long.status, label).toBe(400);
      expect(long.body.error.code, label).toBe('bad_request');
    }
    const longKey = await api.request<ApiError>('PUT', `/v1/agents/a1/kv/${key}k`, { value: 1 });
    expect(longKey.status).toBe(400);
    expect(longKey.body.error.message).toMatch(/key/);
    expect((await api.request<KvListResponse>('GET', '/v1/agents/a1/kv')).body.entries).toEqual([]);
  });

  it(`refuses a JSON body nested deeper than ${MAX_JSON_DEPTH} levels with 400, and keeps serving`, async () => {
    const path = '/v1/agents/deep/kv/k';
    const deep = `{"value":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const r = await api.request<ApiError>('PUT', path, undefined, { body: deep });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/nested deeper than 64 levels/) });
    // Brackets inside strings do not count; the deepest allowed value is stored whole.
    const allowed = `${'['.repeat(MAX_JSON_DEPTH - 1)}"[[[[{{{{"${']'.repeat(MAX_JSON_DEPTH - 1)}`;
    const ok = await api.request<KvEntryResponse>('PUT', path, undefined, { body: `{"value":${allowed}}` });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(JSON.stringify(ok.body.value)).toBe(allowed);
    expect((await api.request('GET', '/v1/health')).status).toBe(200);
  });

  it('the access log holds no token', async () => {
    const log = readFileSync(t.home.daemonLog, 'utf8');
    expect(log).toMatch(/PUT \/v1\/agents\/:agent\/kv\/:key 200/);
    expect(log).not.toContain(t.adminToken);
    expect(log).not.toMatch(/hzk_[0-9a-f]{16}_/);
  });
});
