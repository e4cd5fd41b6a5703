import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupHomes, copyHome, hz, initHome, snapshotTree, type InitJson } from './helpers.js';

/** The secret part of a token `hzk_<id>_<secret>` (the secret is base64url: it may hold `_` itself). */
function secretOf(token: string): string {
  const m = /^hzk_[0-9a-f]{16}_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw new Error('not a token');
  return m[1]!;
}

let template: string;
let templateInit: InitJson;
beforeAll(async () => {
  ({ home: template, init: templateInit } = await initHome());
});
afterAll(cleanupHomes);

/** The bytes of a database and of its -wal file if one is present. */
function dbBytes(path: string): Buffer {
  const parts = [readFileSync(path)];
  if (existsSync(`${path}-wal`)) parts.push(readFileSync(`${path}-wal`));
  return Buffer.concat(parts);
}

describe('hoziron key', () => {
  it('never stores or lists a token: it appears nowhere in keys.db nor in key list', async () => {
    const home = copyHome(template);
    const r = await hz(home, ['key', 'create', '--role', 'operator', '--json']);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout) as { id: string; role: string; token: string };
    expect(created.role).toBe('operator');
    const adminToken = templateInit.admin_key!.token;
    for (const token of [created.token, adminToken]) {
      for (const db of ['keys.db', 'audit.db']) {
        const bytes = dbBytes(join(home, db));
        expect(bytes.includes(token), `${db} holds a token`).toBe(false);
        expect(bytes.includes(secretOf(token)), `${db} holds a token's secret`).toBe(false);
      }
    }
    const list = await hz(home, ['key', 'list']);
    const listJson = await hz(home, ['key', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(listJson.code).toBe(0);
    for (const out of [list.stdout, listJson.stdout, list.stderr, listJson.stderr]) {
      expect(out).not.toContain(secretOf(created.token));
      expect(out).not.toContain(secretOf(adminToken));
      expect(out).not.toMatch(/hzk_/);
    }
    const keys = JSON.parse(listJson.stdout) as { id: string; role: string }[];
    expect(keys.map((k) => k.role).sort()).toEqual(['admin', 'operator']);
    expect(list.stdout).toContain(created.id);
  });

  it('refuses an unknown role with exit 2 and an error line, creating nothing', async () => {
    const home = copyHome(template);
    const before = snapshotTree(home);
    const r = await hz(home, ['key', 'create', '--role', 'superuser']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*superuser/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshotTree(home)).toEqual(before);
  });

  it('revoking an unknown id is a clear error and changes nothing', async () => {
    const home = copyHome(template);
    const before = snapshotTree(home);
    const r = await hz(home, ['key', 'revoke', 'deadbeefdeadbeef']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no API key with id "deadbeefdeadbeef"$/m);
    expect(snapshotTree(home)).toEqual(before);
  });

  it('records key create and revoke in the audit trail by id and role, never the token', async () => {
    const home = copyHome(template);
    const made = await hz(home, ['key', 'create', '--role', 'viewer', '--name', 'dash', '--json']);
    const created = JSON.parse(made.stdout) as { id: string; token: string };
    const revoke = await hz(home, ['key', 'revoke', created.id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/Revoked/);
    const again = await hz(home, ['key', 'revoke', created.id]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
    const tail = await hz(home, ['audit', 'tail', '-n', '2', '--json']);
    expect(tail.code).toBe(0);
    expect(tail.stdout).not.toContain(created.token);
    const events = JSON.parse(tail.stdout) as { action: string; target: string; detail: Record<string, unknown> }[];
    expect(events.map((e) => [e.action, e.target, e.detail.role])).toEqual([
      ['key.create', created.id, 'viewer'],
      ['key.revoke', created.id, 'viewer'],
    ]);
    const list = JSON.parse((await hz(home, ['key', 'list', '--json'])).stdout) as { id: string; revoked_at: string | null }[];
    expect(list.find((k) => k.id === created.id)!.revoked_at).not.toBeNull();
  });
});
