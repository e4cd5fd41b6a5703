import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('choosing the home', () => {
  it('uses HOZIRON_HOME, and --home over it', () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const fromEnv = join(dir, 'env-home');
    const fromFlag = join(dir, 'flag-home');
    expect(runCli(['init'], { env: { HOZIRON_HOME: fromEnv } }).code).toBe(0);
    expect(existsSync(join(fromEnv, 'config.toml'))).toBe(true);
    expect(runCli(['--home', fromFlag, 'init'], { env: { HOZIRON_HOME: fromEnv } }).code).toBe(0);
    expect(existsSync(join(fromFlag, 'config.toml'))).toBe(true);
  });

  it('tells the operator to run init when there is no home', () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const r = runCli(['--home', join(dir, 'nothing'), 'key', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no Hoziron home at .*nothing/m);
    expect(r.stderr).toMatch(/^hint: run `hoziron init`/m);
    expect(existsSync(join(dir, 'nothing'))).toBe(false);
  });
});
