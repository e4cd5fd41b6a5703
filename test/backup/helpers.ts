/** Helpers for the backup tests: a fresh home, the CLI with --json, and GNU tar checks. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { BackupRecord } from '../../src/api/types.js';
import type { ManifestDocument as Manifest } from '../../src/archive/manifest.js';
import { runCli, runCliAsync, tempDir, type CliResult } from '../support/cli.js';

export interface TestHome {
  dir: string;
  home: string;
  storage: string;
  /** Runs asynchronously, so vitest's worker stays responsive while the CLI works. */
  cli: (...args: string[]) => Promise<CliResult>;
  cleanup: () => void;
}

/** An initialised home with a few agents and memory files; `cli` runs with --home. */
export function makeHome(): TestHome {
  const { dir, cleanup } = tempDir('hoziron-backup-');
  const home = join(dir, 'home');
  const init = runCli(['--home', home, 'init', '--json']);
  expect(init.code, init.stderr).toBe(0);
  for (const a of ['alpha', 'beta']) {
    mkdirSync(join(home, 'data', 'agents', a), { recursive: true });
    writeFileSync(join(home, 'data', 'agents', a, 'agent.toml'), `name = "${a}"\n`);
    writeFileSync(join(home, 'data', 'agents', a, 'state.json'), '{"state":"idle"}\n');
  }
  writeFileSync(join(home, 'data', 'memory', 'notes.md'), 'remember the milk\n'.repeat(100));
  writeFileSync(join(home, 'data', 'workflows', 'daily.yaml'), 'steps: []\n');
  mkdirSync(join(home, 'data', 'memory', 'empty-folder'));
  return { dir, home, storage: join(home, 'backups'), cli: (...args) => runCliAsync(['--home', home, ...args]), cleanup };
}

export async function createJson(h: TestHome, ...args: string[]): Promise<BackupRecord> {
  const r = await h.cli('backup', 'create', '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BackupRecord;
}

export async function listJson(h: TestHome): Promise<BackupRecord[]> {
  const r = await h.cli('backup', 'list', '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BackupRecord[];
}

export function sh(cmd: string, args: string[], cwd?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Entry names as GNU tar lists them; fails on any warning. */
export function gnuTarList(archive: string): string[] {
  const r = sh('tar', ['-tzf', archive]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

/** Extract with GNU tar into a new directory; returns it and the parsed manifest. */
export function gnuTarExtract(archive: string, into: string): Manifest {
  mkdirSync(into, { recursive: true });
  const r = sh('tar', ['-xzf', archive, '-C', into]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(readFileSync(join(into, 'MANIFEST.json'), 'utf8')) as Manifest;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function setRetention(h: TestHome, n: number): void {
  const path = join(h.home, 'config.toml');
  writeFileSync(path, readFileSync(path, 'utf8').replace(/^retention = \d+$/m, `retention = ${n}`));
}
