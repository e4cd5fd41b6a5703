/**
 * The daemon with `[backup.encryption]`: an API create (run in a worker, which gets the
 * recipients and never an identity) writes an age archive; the API lists it as encrypted and
 * verifies it completely with the configured identity_file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRecord } from '../../src/api/types.js';
import { generateIdentity } from '../../src/crypto/keys.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

describe('daemon backup API with encryption', () => {
  let t: TestHome;
  let api: ApiClient;
  beforeAll(async () => {
    const id = generateIdentity();
    t = makeHome([`recipients = ["${id.recipient}"]`]);
    writeFileSync(join(t.root, 'key.txt'), id.fileText, { mode: 0o600 });
    const config = readFileSync(t.home.config, 'utf8').replace(
      /^identity_file = .*$/m,
      `identity_file = ${JSON.stringify(join(t.root, 'key.txt'))}`,
    );
    writeFileSync(t.home.config, config);
    api = await startDaemon(t);
  }, 60_000);
  afterAll(async () => t.cleanup());

  it('creates an encrypted archive, lists it as encrypted and verifies it fully', async () => {
    const created = await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body.path).toMatch(/\.tar\.gz\.age$/);
    expect(readFileSync(created.body.path).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    const list = await api.request<BackupRecord[]>('GET', '/v1/backup/list');
    expect(list.body.find((r) => r.id === created.body.id)?.encrypted).toBe(true);
    const verified = await api.request<{ ok: boolean; unchecked?: string[]; encrypted?: boolean }>('POST', '/v1/backup/verify', {
      id: created.body.id,
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(verified.body.encrypted).toBe(true);
    expect(verified.body.unchecked).toBeUndefined();
  }, 60_000);
});
