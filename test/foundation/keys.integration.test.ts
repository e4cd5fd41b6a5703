import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { initHome, snapshotTree } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function fresh() {
  const h = initHome();
  cleanups.push(h.cleanup);
  return h;
}

/** The bytes of a database and of its -wal file if one is present. */
function dbBytes(path: string): Buffer {
  const parts = [readFileSync(path)];
  if (existsSync(`${path}-wal`)) parts.push(readFileSync(`${path}-wal`));
  return Buffer.concat(parts);
}

describe('hoziron key', () => {
  it('never stores or lists a token: it appears nowhere in keys.db nor in key list', () => {
    const { home, init } = fresh();
    const r = runCli(['--home', home, 'key', 'create', '--role', 'operator', '--json']);
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout) as { id: string; role: string; token: string };
    expect(created.role).toBe('operator');
    const secret = created.token.split('_').pop()!;
    for (const token of [created.token, init.admin_key!.token]) {
      for (const db of ['keys.db', 'audit.db']) {
        const bytes = dbBytes(join(home, db));
        expect(bytes.includes(token), `${db} holds a token`).toBe(false);
        expect(bytes.includes(token.split('_').pop()!), `${db} holds a token secret`).toBe(false);
      }
    }
    const list = runCli(['--home', home, 'key', 'list']);
    const listJson = runCli(['--home', home, 'key', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(listJson.code).toBe(0);
    for (const out of [list.stdout, listJson.stdout, list.stderr, listJson.stderr]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain(init.admin_key!.token);
      expect(out).not.toMatch(/hzk_/);
    }
    const keys = JSON.parse(listJson.stdout) as { id: string; role: string }[];
    expect(keys.map((k) => k.role).sort()).toEqual(['admin', 'operator']);
    expect(list.stdout).toContain(created.id);
  });

  it('refuses an unknown role with exit 2 and an error line, creating nothing', () => {
    const { home } = fresh();
    const before = snapshotTree(home);
    const r = runCli(['--home', home, 'key', 'create', '--role', 'superuser']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*superuser/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshotTree(home)).toEqual(before);
  });

  it('revoking an unknown id is a clear error and changes nothing', () => {
    const { home } = fresh();
    const before = snapshotTree(home);
    const r = runCli(['--home', home, 'key', 'revoke', 'deadbeefdeadbeef']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no API key with id "deadbeefdeadbeef"$/m);
    expect(snapshotTree(home)).toEqual(before);
  });

  it('records key create and revoke in the audit trail by id and role, never the token', () => {
    const { home } = fresh();
    const created = JSON.parse(runCli(['--home', home, 'key', 'create', '--role', 'viewer', '--name', 'dash', '--json']).stdout) as {
      id: string;
      token: string;
    };
    const revoke = runCli(['--home', home, 'key', 'revoke', created.id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/Revoked/);
    const again = runCli(['--home', home, 'key', 'revoke', created.id]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
    const tail = runCli(['--home', home, 'audit', 'tail', '-n', '2', '--json']);
    expect(tail.code).toBe(0);
    expect(tail.stdout).not.toContain(created.token);
    const events = JSON.parse(tail.stdout) as { action: string; target: string; detail: Record<string, unknown> }[];
    expect(events.map((e) => [e.action, e.target, e.detail.role])).toEqual([
      ['key.create', created.id, 'viewer'],
      ['key.revoke', created.id, 'viewer'],
    ]);
    const list = JSON.parse(runCli(['--home', home, 'key', 'list', '--json']).stdout) as { id: string; revoked_at: string | null }[];
    expect(list.find((k) => k.id === created.id)!.revoked_at).not.toBeNull();
  });
});
