/**
 * The daemon with `[backup.encryption]`: an API create (run in a worker, which gets the
 * recipients and never an identity) writes an age archive; the API lists it as encrypted and
 * verifies and restores it with the configured identity_file. A daemon without an identity
 * refuses to restore one in one line, changing nothing; a passphrase is never accepted by
 * the API, nor handed to the daemon by a CLI restore.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiError, BackupRecord } from '../../src/api/types.js';
import { generateIdentity } from '../../src/crypto/keys.js';
import { waitForCleanup } from '../restore/support/home.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

describe('daemon backup API with encryption', () => {
  let t: TestHome;
  let api: ApiClient;
  let created: BackupRecord;
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
    const made = await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    created = made.body;
    expect(created.path).toMatch(/\.tar\.gz\.age$/);
    expect(readFileSync(created.path).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    const list = await api.request<BackupRecord[]>('GET', '/v1/backup/list');
    expect(list.body.find((r) => r.id === created.id)?.encrypted).toBe(true);
    const verified = await api.request<{ ok: boolean; unchecked?: string[]; encrypted?: boolean }>('POST', '/v1/backup/verify', {
      id: created.id,
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(verified.body.encrypted).toBe(true);
    expect(verified.body.unchecked).toBeUndefined();
  }, 60_000);

  it('restores it with identity_file: a dry run, then live, with an encrypted safety backup', async () => {
    const plan = await api.request<{ dry_run: boolean; restorable: boolean }>('POST', '/v1/backup/restore', {
      id: created.id,
      dry_run: true,
    });
    expect(plan.status, JSON.stringify(plan.body)).toBe(200);
    expect(plan.body).toMatchObject({ dry_run: true, restorable: true });
    const done = await api.request<{ dry_run: boolean; archive: { id: string }; safety_backup: BackupRecord }>(
      'POST',
      '/v1/backup/restore',
      { id: created.id },
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.archive.id).toBe(created.id);
    expect(done.body.safety_backup.path).toMatch(/pre-restore\/.*\.tar\.gz\.age$/);
    expect((await api.request('GET', '/v1/health')).status).toBe(200);
  }, 120_000);

  it('never takes a passphrase over the API', async () => {
    const r = await api.request<ApiError>('POST', '/v1/backup/create', { scope: 'full', passphrase: 'hunter2' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).not.toContain('hunter2');
  });

  it('a CLI restore with a passphrase is refused while the daemon runs, nothing changed', async () => {
    // The API restore above makes its safety backup in the background: let it finish.
    expect(await waitForCleanup(t.home.root)).toBe(true);
    const before = readdirSync(t.home.defaultStorage).sort();
    const r = await t.cliAsync(['backup', 'restore', created.path, '--confirm', '--passphrase'], { HOZIRON_BACKUP_PASSPHRASE: 'hunter2' });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(
      /^error: refusing to restore: the daemon \(pid \d+\) runs on this home and a passphrase is never handed to it/,
    );
    expect(r.stderr).not.toContain('hunter2');
    expect(readdirSync(t.home.defaultStorage).sort()).toEqual(before);
  }, 60_000);
});

describe('daemon without an identity', () => {
  let t: TestHome;
  let api: ApiClient;
  beforeAll(async () => {
    t = makeHome([`recipients = ["${generateIdentity().recipient}"]`]);
    api = await startDaemon(t);
  }, 60_000);
  afterAll(async () => t.cleanup());

  it('makes encrypted archives it cannot read, and refuses to restore one in one line', async () => {
    const made = await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    for (const body of [{ id: made.body.id, dry_run: true }, { id: made.body.id }]) {
      const r = await api.request<ApiError>('POST', '/v1/backup/restore', body);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('identity_required');
      expect(r.body.error.message).toMatch(/\.tar\.gz\.age is encrypted and no identity was given to decrypt it$/);
      expect(r.body.error.message).not.toContain('\n');
      expect(r.body.error.hint).toMatch(/identity_file/);
    }
    expect(existsSync(join(t.home.defaultStorage, 'pre-restore'))).toBe(false);
  }, 60_000);
});
