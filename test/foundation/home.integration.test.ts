import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync } from '../support/cli.js';
import { cleanupHomes, hz, newHomePath } from './helpers.js';

afterAll(cleanupHomes);

describe('choosing the home', () => {
  it('uses HOZIRON_HOME, and --home over it', async () => {
    const fromEnv = newHomePath();
    const fromFlag = newHomePath();
    expect((await runCliAsync(['init'], { env: { HOZIRON_HOME: fromEnv } })).code).toBe(0);
    expect(existsSync(join(fromEnv, 'config.toml'))).toBe(true);
    expect((await runCliAsync(['--home', fromFlag, 'init'], { env: { HOZIRON_HOME: fromEnv } })).code).toBe(0);
    expect(existsSync(join(fromFlag, 'config.toml'))).toBe(true);
  });

  it('tells the operator to run init when there is no home', async () => {
    const home = newHomePath();
    const r = await hz(home, ['key', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no Hoziron home at .*home/m);
    expect(r.stderr).toMatch(/^hint: run `hoziron init`/m);
    expect(existsSync(home)).toBe(false);
  });
});
