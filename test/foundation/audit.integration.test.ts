import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cleanupHomes, copyHome, hz, initHome } from './helpers.js';

// A home whose audit trail holds 5 events: 1 genesis, 2 the admin key, 3..5 three more keys.
let template: string;
beforeAll(async () => {
  ({ home: template } = await initHome());
  for (const role of ['viewer', 'operator', 'viewer']) {
    expect((await hz(template, ['key', 'create', '--role', role])).code).toBe(0);
  }
});
afterAll(cleanupHomes);

describe('hoziron audit', () => {
  it('verifies an untouched chain', async () => {
    const r = await hz(template, ['audit', 'verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok: 5 events/);
    const json = JSON.parse((await hz(template, ['audit', 'verify', '--json'])).stdout) as { ok: boolean; count: number };
    expect(json).toMatchObject({ ok: true, count: 5 });
  });

  it.each([
    ['changing the action of an event', "UPDATE events SET action = 'key.revoke' WHERE seq = 3"],
    ['changing the detail of an event', `UPDATE events SET detail = '{"role":"admin"}' WHERE seq = 3`],
    [
      'changing the stored hash of an event',
      "UPDATE events SET hash = (CASE WHEN substr(hash, 1, 1) = '0' THEN '1' ELSE '0' END) || substr(hash, 2) WHERE seq = 3",
    ],
    ['deleting an event', 'DELETE FROM events WHERE seq = 3'],
  ])('names the first bad sequence number after %s with sqlite3', async (_what, sql) => {
    const home = copyHome(template);
    execFileSync('/usr/bin/sqlite3', [join(home, 'audit.db'), sql]);
    const r = await hz(home, ['audit', 'verify']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: audit chain broken at seq 3\b/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('makes doctor fail the audit chain check too', async () => {
    const home = copyHome(template);
    execFileSync('/usr/bin/sqlite3', [join(home, 'audit.db'), "UPDATE events SET actor = 'mallory' WHERE seq = 4"]);
    const doctor = await hz(home, ['doctor', '--json']);
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as { checks: { check: string; status: string; message: string }[] };
    expect(report.checks.find((c) => c.check === 'audit chain')).toMatchObject({ status: 'fail', message: expect.stringMatching(/seq 4/) });
  });

  it('tails the newest N events, oldest first', async () => {
    const r = await hz(template, ['audit', 'tail', '-n', '2', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { seq: number }[]).map((e) => e.seq)).toEqual([4, 5]);
    const human = await hz(template, ['audit', 'tail']);
    expect(human.stdout).toMatch(/audit\.genesis/);
    const bad = await hz(template, ['audit', 'tail', '-n', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: /m);
  });
});
