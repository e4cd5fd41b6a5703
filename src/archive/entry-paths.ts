/**
 * Which paths an archive may hold. A manifest is attacker-controlled input (its checksum
 * sidecar travels with it), so before anything is extracted we prove that every path it
 * lists lies inside the backup scope it declares and that no path passes through a file.
 * Entry names are checked on their own too, so an error names the attack, not just "unlisted".
 * Whether two names alias depends on the file system they land on, not on the archive:
 * `aliasingPairs` finds them for a given folding (create warns, a restore refuses).
 */
import { HozironError } from '../errors.js';
import { SCOPE_ITEMS } from '../home/layout.js';
import { displayName } from './entry-name.js';
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

/** What a file system treats as the same name: case folding, Unicode normalisation, both or neither. */
export interface NameFolding {
  foldsCase: boolean;
  normalises: boolean;
}

/** The key under which two names are one file on a file system that folds as `f` says. */
function aliasKey(path: string, f: NameFolding): string {
  let key = f.normalises ? path.normalize('NFC') : path;
  if (f.foldsCase) key = key.toUpperCase().toLowerCase();
  return f.normalises ? key.normalize('NFC') : key;
}

/**
 * Pairs of distinct paths that would be one file (or one directory) on a file system that
 * folds names as `folding` says, checked on every ancestor too (so "A/x" and "a/y" alias
 * through "A" and "a"). At most `limit` pairs; `more` counts the rest.
 */
export function aliasingPairs(
  paths: Iterable<string>,
  folding: NameFolding,
  limit = Infinity,
): { pairs: [string, string][]; more: number } {
  const out = { pairs: [] as [string, string][], more: 0 };
  if (!folding.foldsCase && !folding.normalises) return out;
  const byKey = new Map<string, string>();
  const reported = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const key = aliasKey(prefix, folding);
      const seen = byKey.get(key);
      if (seen === undefined) byKey.set(key, prefix);
      else if (seen !== prefix && !reported.has(prefix)) {
        reported.add(prefix);
        if (out.pairs.length < limit) out.pairs.push([seen, prefix]);
        else out.more++;
      }
    }
  }
  return out;
}

/** Which Unicode form a name is in, to tell apart two names that print the same. */
function formOf(name: string): string {
  if (name === name.normalize('NFC')) return 'NFC';
  return name === name.normalize('NFD') ? 'NFD' : 'mixed form';
}

/** `"a" and "b", …` for messages; canonically equivalent names are labelled with their forms. */
export function describeAliasPairs(pairs: [string, string][]): string {
  return pairs
    .map(([a, b]) => {
      const same = a.normalize('NFC') === b.normalize('NFC');
      const show = (n: string) => `${JSON.stringify(displayName(n))}${same ? ` (${formOf(n)})` : ''}`;
      return `${show(a)} and ${show(b)}`;
    })
    .join(', ');
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
 * Refuse a manifest whose paths leave its scope or pass through a listed file. Names that
 * differ only in case or Unicode normalisation are legal here (Linux keeps them apart); the
 * restore refuses them only on a file system that would merge them (see `aliasingPairs`).
 */
export function checkManifestPaths(m: Manifest, source: string): void {
  const refuse = (msg: string) => new HozironError('archive_invalid', `${source}: ${msg}`);
  const files = { has: (p: string) => m.files.indexOf(p) >= 0 };
  const entries = function* (): Generator<[string, boolean]> {
    for (let i = 0; i < m.files.length; i++) yield [m.files.pathAt(i), false];
    for (let i = 0; i < m.dirs.length; i++) yield [m.dirs.pathAt(i), true];
  };
  for (const [path, isDir] of entries()) {
    // Only for a message: no string per entry otherwise (200,000 paths add up).
    const shown = () => JSON.stringify(displayName(path));
    const unsafe = unsafeNameReason(path);
    if (unsafe) throw refuse(`MANIFEST.json lists ${shown()}, which ${unsafe}`);
    if (!inScope(path, isDir, m.scope)) {
      throw refuse(`MANIFEST.json lists ${shown()}, which is outside the ${m.scope} backup scope`);
    }
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (files.has(prefix)) throw refuse(`MANIFEST.json lists ${shown()}, whose parent ${JSON.stringify(displayName(prefix))} is a file`);
    }
  }
}
