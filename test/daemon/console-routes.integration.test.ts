import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhoAmIResponse } from '../../src/api/daemon.js';
import type { BackupRecord } from '../../src/api/types.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

describe('the routes the console relies on', () => {
  let t: TestHome;
  let api: ApiClient;
  let record: BackupRecord;

  beforeAll(async () => {
    t = makeHome();
    api = await startDaemon(t);
    record = (await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' })).body;
  });
  afterAll(async () => t?.cleanup());

  it('whoami names the key and its role, never its token', async () => {
    const viewer = t.token('viewer');
    const r = await api.withToken(viewer).request<WhoAmIResponse>('GET', '/v1/auth/whoami');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id: expect.any(String), name: 'test viewer', role: 'viewer' });
    expect(JSON.stringify(r.body)).not.toContain(viewer);
    expect((await api.withToken(undefined).request('GET', '/v1/auth/whoami')).status).toBe(401);
  });

  it('downloads the archive byte for byte for an operator, as an attachment; 403 for a viewer', async () => {
    const url = `http://${api.address}/v1/backup/${record.id}/download`;
    const viewer = await fetch(url, { headers: { authorization: `Bearer ${t.token('viewer')}` } });
    expect(viewer.status).toBe(403);
    const res = await fetch(url, { headers: { authorization: `Bearer ${t.token('operator')}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${record.file}"`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(record.size_bytes);
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(record.checksum);
    expect(body.equals(readFileSync(record.path))).toBe(true);
  });

  it('records how long each create took (duration_ms) for the chart', async () => {
    const list = await api.request<BackupRecord[]>('GET', '/v1/backup/list');
    expect(list.body[0]?.duration_ms).toBeGreaterThan(0);
  });

  it('serves the console without a key, and nothing outside its folder', async () => {
    const page = await fetch(`http://${api.address}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    for (const path of ['/assets/..%2F..%2Fpackage.json', '/assets/.hidden.js', '/assets/index.html.map', '/index.html/../keys.db']) {
      expect((await fetch(`http://${api.address}${path}`)).status, path).toBe(404);
    }
  });
});
