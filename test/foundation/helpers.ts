/**
 * Helpers for the foundation tests. The CLI runs asynchronously (a synchronous spawn would
 * block the test worker on a loaded machine), and a test that only needs "an initialised
 * home" gets a copy of one made once per file, so the suite spawns as few processes as it can.
 */
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import { runCliAsync, tempDir, type CliResult } from '../support/cli.js';

export interface InitJson {
  home: string;
  created: boolean;
  created_paths: string[];
  admin_key: { id: string; role: string; token: string } | null;
}

const cleanups: (() => void)[] = [];

/** Remove every directory made by these helpers (call from afterAll). */
export function cleanupHomes(): void {
  cleanups.splice(0).forEach((c) => c());
}

/** `hoziron --home <home> <args>`. */
export function hz(home: string, args: string[], env?: Record<string, string>): Promise<CliResult> {
  return runCliAsync(['--home', home, ...args], { env });
}

/** A new home path (not yet existing) in a fresh temporary directory. */
export function newHomePath(): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return join(dir, 'home');
}

/** `hoziron init --json` into a new temporary directory. */
export async function initHome(): Promise<{ home: string; init: InitJson }> {
  const home = newHomePath();
  const r = await hz(home, ['init', '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { home, init: JSON.parse(r.stdout) as InitJson };
}

/** A copy of `home` (modes kept) in a fresh temporary directory. */
export function copyHome(home: string): string {
  const copy = newHomePath();
  cpSync(home, copy, { recursive: true });
  return copy;
}

/** Every entry under `root` (home-relative) → hash of its bytes (files) or 'dir', its mode and mtime. */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      const rel = relative(root, p);
      if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o777).toString(8)}`;
        walk(p);
      } else {
        out[rel] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${(st.mode & 0o777).toString(8)} ${st.mtimeMs}`;
      }
    }
  };
  walk(root);
  return out;
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}
