/**
 * Which paths an archive may hold. A manifest is attacker-controlled input (its checksum
 * sidecar travels with it), so before anything is extracted we prove that every path it
 * lists lies inside the backup scope it declares, that no path passes through a file, and
 * that no two paths collide on a filesystem that normalises Unicode (NFC) or folds case.
 * Entry names are checked on their own too, so an error names the attack, not just "unlisted".
 */
import { HozironError } from '../errors.js';
import { SCOPE_ITEMS } from '../home/layout.js';
import type { Manifest } from './manifest.js';

/** Why an entry name is unsafe in itself, or undefined when it is a clean relative path. */
export function unsafeNameReason(name: string): string | undefined {
  if (name.includes('\0')) return 'contains a NUL byte';
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) return 'is an absolute path';
  const parts = name.split('/');
  if (parts.includes('..')) return "contains a '..' component";
  if (parts.some((p) => p === '' || p === '.')) return "has an empty or '.' component";
  return undefined;
}

/** The key under which two names collide on a normalising, case-insensitive filesystem. */
function collisionKey(path: string): string {
  return path.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

/** Is `path` (a file when !isDir) something an archive of `scope` may contain? */
function inScope(path: string, isDir: boolean, scope: Manifest['scope']): boolean {
  for (const item of SCOPE_ITEMS[scope]) {
    if (item.endsWith('/')) {
      const dir = item.slice(0, -1);
      if (path === dir) return isDir;
      if (path.startsWith(item)) return true;
      // Ancestors of a scope directory (e.g. "data") may be listed as directories.
      if (isDir && item.startsWith(`${path}/`)) return true;
    } else {
      if (path === item) return !isDir;
      if (isDir && item.startsWith(`${path}/`)) return true;
    }
  }
  return false;
}

/**
 * Refuse a manifest whose paths leave its scope, pass through a listed file, or collide
 * after NFC normalisation or case folding (checked on every ancestor too, so "A/x" and
 * "a/y" collide).
 */
export function checkManifestPaths(m: Manifest, source: string): void {
  const refuse = (msg: string) => new HozironError('archive_invalid', `${source}: ${msg}`);
  const files = { has: (p: string) => m.files.indexOf(p) >= 0 };
  const byKey = new Map<string, string>();
  const entries = function* (): Generator<[string, boolean]> {
    for (let i = 0; i < m.files.length; i++) yield [m.files.pathAt(i), false];
    for (let i = 0; i < m.dirs.length; i++) yield [m.dirs.pathAt(i), true];
  };
  for (const [path, isDir] of entries()) {
    const unsafe = unsafeNameReason(path);
    if (unsafe) throw refuse(`MANIFEST.json lists ${JSON.stringify(path)}, which ${unsafe}`);
    if (!inScope(path, isDir, m.scope)) {
      throw refuse(`MANIFEST.json lists ${JSON.stringify(path)}, which is outside the ${m.scope} backup scope`);
    }
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      // The whole path is the list's own string: keep no copy of it (200,000 paths add up).
      const prefix = i === parts.length ? path : parts.slice(0, i).join('/');
      if (i < parts.length && files.has(prefix)) {
        throw refuse(`MANIFEST.json lists ${JSON.stringify(path)}, whose parent ${JSON.stringify(prefix)} is a file`);
      }
      const folded = collisionKey(prefix);
      const key = folded === prefix ? prefix : folded;
      const seen = byKey.get(key);
      if (seen === undefined) byKey.set(key, prefix);
      else if (seen !== prefix) {
        throw refuse(`${JSON.stringify(seen)} and ${JSON.stringify(prefix)} collide after Unicode normalisation or case folding`);
      }
    }
  }
}
