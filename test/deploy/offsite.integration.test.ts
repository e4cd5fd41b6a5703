/**
 * deploy/systemd/hoziron-offsite.sh against a real home: it ships the newest FULL archive
 * (never a newer agents-only one) with its .sha256, and checks the copy at the destination
 * with `sha256sum -c`. The destination here is a local directory (DEST_HOST empty); the
 * remote branch differs only in rsync/ssh doing the same two steps.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT, runCliAsync, tempDir } from '../support/cli.js';

const SCRIPT = join(REPO_ROOT, 'deploy', 'systemd', 'hoziron-offsite.sh');

let dir: string;
let cleanup: () => void;
let home: string;
let pathDir: string;

/** Run the script as the unit does: hoziron on PATH, HOZIRON_HOME set. */
function offsite(destDir: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(SCRIPT, [], {
    encoding: 'utf8',
    env: { PATH: `${pathDir}:${process.env.PATH ?? ''}`, HOZIRON_HOME: home, DEST_DIR: destDir, DEST_HOST: '' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function hz(args: string[]): Promise<string> {
  const r = await runCliAsync(['--home', home, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('hoziron-offsite-'));
  home = join(dir, 'home');
  pathDir = join(dir, 'bin');
  mkdirSync(pathDir);
  // As installed: a symlink on PATH to the repository's bin/hoziron.
  symlinkSync(BIN, join(pathDir, 'hoziron'));
  await hz(['init', '--json']);
});

afterAll(() => cleanup?.());

describe('hoziron-offsite.sh', () => {
  it('fails when there is no full backup to copy', async () => {
    await hz(['backup', 'create', '--agents-only', '--json']);
    const dest = join(dir, 'dest-empty');
    mkdirSync(dest);
    const r = offsite(dest);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no full backup/);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('copies the newest full archive, not a newer agents-only one, and checks the copy', async () => {
    const full = JSON.parse(await hz(['backup', 'create', '--json'])) as { path: string; scope: string };
    const agents = JSON.parse(await hz(['backup', 'create', '--agents-only', '--json'])) as { path: string; scope: string };
    expect([full.scope, agents.scope]).toEqual(['full', 'agents']);
    const dest = join(dir, 'dest');
    mkdirSync(dest);

    const r = offsite(dest);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const name = basename(full.path);
    expect(r.stdout).toContain(`${name}: OK`);
    expect(readdirSync(dest).sort()).toEqual([name, `${name}.sha256`]);
    // The copy checks out with the system's tool, as an operator at the destination would.
    expect(spawnSync('sha256sum', ['--check', '--strict', `${name}.sha256`], { cwd: dest }).status).toBe(0);
  });
});
