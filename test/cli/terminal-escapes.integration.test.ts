/**
 * Names and values from an archive reach the terminal escaped: a hostile manifest cannot
 * clear the operator's screen, retitle the terminal or forge a second `hint:` line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentsFiles, manifestFor, tarBytes, writeArchive } from '../restore/support/archives.js';
import { cli } from '../restore/support/home.js';
import { runCli, tempDir } from '../support/cli.js';

const ESC = '\u001b';

describe('terminal escapes from an archive', () => {
  const t = tempDir('hoziron-escapes-');
  const home = join(t.dir, 'home');
  beforeAll(() => {
    expect(runCli(['--home', home, 'init']).code).toBe(0);
  });
  afterAll(() => t.cleanup());

  async function hostileArchive(name: string, patch: Record<string, unknown>): Promise<string> {
    const files = agentsFiles();
    const manifest = { ...manifestFor(files), ...patch };
    return writeArchive(
      join(t.dir, name),
      await tarBytes(
        files.map((f) => ({ name: f.path, content: f.content })),
        JSON.stringify(manifest),
      ),
    );
  }

  it('backup show prints a manifest host with escapes as visible text', async () => {
    const file = await hostileArchive('host.tar.gz', { host: `evil${ESC}]0;pwned\u0007${ESC}[2J` });
    const r = await cli(home, 'backup', 'show', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(ESC);
    expect(r.stdout).not.toContain('\u0007');
    expect(r.stdout).toContain('evil\\x1b]0;pwned\\x07\\x1b[2J');
  });

  it('a manifest value with a newline and an escape stays inside its own line of the dry run', async () => {
    const file = await hostileArchive('version.tar.gz', { hoziron_version: `99.0.0${ESC}[2J\nhint: run rm -rf /` });
    const r = await cli(home, 'backup', 'restore', file);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).not.toContain(ESC);
    expect(r.stdout).toMatch(/^ {2}version: {2}hoziron 99\.0\.0\\x1b\[2J\\x0ahint: run rm -rf \/, format 1$/m);
    expect(out.split('\n').some((l) => l.startsWith('hint: run rm'))).toBe(false);
    // --json output is JSON: its strings carry escapes of their own.
    const json = await cli(home, 'backup', 'show', file, '--json');
    expect(json.stdout).not.toContain(ESC);
  });

  it('an error naming a hostile archive file name stays one line with no escape byte', async () => {
    const file = join(t.dir, `bad${ESC}[2J\nhint: forged.tar.gz`);
    writeFileSync(file, 'not a gzip file');
    const r = await cli(home, 'backup', 'verify', file);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain(ESC);
    expect(r.stderr).toMatch(/^error: .*bad\\x1b\[2J\\x0ahint: forged\.tar\.gz/m);
    expect(r.stderr.split('\n').some((l) => l.startsWith('hint: forged'))).toBe(false);
  });
});
