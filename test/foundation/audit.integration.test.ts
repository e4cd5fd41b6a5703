import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { initHome } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function homeWithEvents(): string {
  const h = initHome();
  cleanups.push(h.cleanup);
  for (const role of ['viewer', 'operator', 'viewer']) {
    expect(runCli(['--home', h.home, 'key', 'create', '--role', role]).code).toBe(0);
  }
  return h.home; // events: 1 genesis, 2 admin key, 3..5 the keys above
}

describe('hoziron audit', () => {
  it('verifies an untouched chain', () => {
    const home = homeWithEvents();
    const r = runCli(['--home', home, 'audit', 'verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok: 5 events/);
    const json = JSON.parse(runCli(['--home', home, 'audit', 'verify', '--json']).stdout) as { ok: boolean; count: number };
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
  ])('names the first bad sequence number after %s with sqlite3', (_what, sql) => {
    const home = homeWithEvents();
    execFileSync('/usr/bin/sqlite3', [join(home, 'audit.db'), sql]);
    const r = runCli(['--home', home, 'audit', 'verify']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: audit chain broken at seq 3\b/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const doctor = runCli(['--home', home, 'doctor', '--json']);
    expect(doctor.code).toBe(1);
    const report = JSON.parse(doctor.stdout) as { checks: { check: string; status: string; message: string }[] };
    expect(report.checks.find((c) => c.check === 'audit chain')).toMatchObject({ status: 'fail', message: expect.stringMatching(/seq 3/) });
  });

  it('tails the newest N events, oldest first', () => {
    const home = homeWithEvents();
    const r = runCli(['--home', home, 'audit', 'tail', '-n', '2', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { seq: number }[]).map((e) => e.seq)).toEqual([4, 5]);
    const human = runCli(['--home', home, 'audit', 'tail']);
    expect(human.stdout).toMatch(/audit\.genesis/);
    const bad = runCli(['--home', home, 'audit', 'tail', '-n', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: /m);
  });
});
