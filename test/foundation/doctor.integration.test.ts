import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupHomes, copyHome, hz, initHome } from './helpers.js';

let template: string;
beforeAll(async () => {
  ({ home: template } = await initHome());
});
afterAll(cleanupHomes);

interface Report {
  ok: boolean;
  checks: { check: string; status: string; message: string }[];
}

async function doctorJson(home: string): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await hz(home, ['doctor', '--json'], { HOZIRON_DOCTOR_MIN_FREE_BYTES: '0' });
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

function setConfig(home: string, edit: (text: string) => string): void {
  const file = join(home, 'config.toml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
}

describe('hoziron doctor', () => {
  it('is all ok on a fresh home', async () => {
    const { code, report } = await doctorJson(template);
    // A fresh home has no daemon running and no backup yet: those two only warn.
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([
      { check: 'daemon', status: 'warn', message: expect.stringMatching(/not running/) },
      { check: 'newest backup', status: 'warn', message: expect.stringMatching(/no backup/) },
    ]);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    for (const name of [
      'config',
      'keys.db',
      'audit.db',
      'data/hoziron.db',
      'audit chain',
      '.env mode',
      'keys.db mode',
      'storage mode',
      'storage writable',
      'disk space',
    ]) {
      expect(report.checks.map((c) => c.check)).toContain(name);
    }
    const human = await hz(template, ['doctor']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ok +keys\.db mode/m);
  });

  it('fails, naming keys.db, when keys.db is mode 0644', async () => {
    const home = copyHome(template);
    chmodSync(join(home, 'keys.db'), 0o644);
    const { code, report, stderr } = await doctorJson(home);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === 'keys.db mode')).toMatchObject({ status: 'fail', message: expect.stringMatching(/0644/) });
    expect(stderr).toMatch(/^error: keys\.db mode: /m);
  });

  it('warns about an unknown config key but does not fail', async () => {
    const home = copyHome(template);
    setConfig(home, (t) => t.replace('[backup]\n', '[backup]\nretension = 3\n'));
    const { code, report } = await doctorJson(home);
    expect(code).toBe(0);
    expect(report.checks.find((c) => c.check === 'config')).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/backup\.retension/),
    });
  });

  it('fails on a damaged database file', async () => {
    const home = copyHome(template);
    const file = join(home, 'data/hoziron.db');
    const bytes = readFileSync(file);
    bytes.fill(0xab, 4096, 8192); // garble the second page
    writeFileSync(file, bytes);
    const { code, report } = await doctorJson(home);
    expect(code).toBe(1);
    expect(report.checks.find((c) => c.check === 'data/hoziron.db')?.status).toBe('fail');
  });
});

describe('a bad config value', () => {
  it.each([
    ['doctor', ['doctor']],
    ['key list', ['key', 'list']],
    ['audit verify', ['audit', 'verify']],
    ['init on the initialised home', ['init']],
  ])('makes %s fail with one error line naming backup.retention, no stack trace', async (_name, args) => {
    const home = copyHome(template);
    setConfig(home, (t) => t.replace(/^retention = 7$/m, 'retention = "seven"'));
    const r = await hz(home, args);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/backup\.retention/);
    expect(errors[0]).toMatch(/config\.toml/);
    expect(errors[0]).toMatch(/"seven"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
