/** Helpers for the foundation tests: a fresh initialised home, file hashes, modes. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import { runCli, tempDir } from '../support/cli.js';

export interface InitJson {
  home: string;
  created: boolean;
  created_paths: string[];
  admin_key: { id: string; role: string; token: string } | null;
}

/** `hoziron init --json` in a new temporary directory; returns the home and the admin key. */
export function initHome(): { home: string; init: InitJson; cleanup: () => void } {
  const { dir, cleanup } = tempDir();
  const home = join(dir, 'home');
  const r = runCli(['--home', home, 'init', '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { home, init: JSON.parse(r.stdout) as InitJson, cleanup };
}

/** Every entry under `root` (home-relative) → sha256 of its bytes (files) or 'dir', plus its mode. */
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
