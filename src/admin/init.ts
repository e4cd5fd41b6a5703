/**
 * `hoziron init`: create a Hoziron home (README.md#the-home), or complete one that a crash left half
 * made. config.toml is written LAST and marks a finished home: when it exists, init changes
 * nothing but the mode of the home directory itself, which it tightens to 0700 (the home
 * holds secrets); it only reports pieces that are missing, for `hoziron doctor` to explain.
 * Before that, each missing piece is created and each piece already present is left
 * byte-for-byte alone. Every file appears under its final name only when complete: files
 * through `writeFileAtomic`, databases through `createStore` (built under a temporary name,
 * fsynced, then linked into place, which never replaces an existing file). So a crash at any
 * line leaves a home that the next `init` completes.
 * The admin key is never minted twice: if keys.db exists, init mints nothing (an operator who
 * never saw that token runs `hoziron key create --role admin` once the home is complete).
 */
import { promises as fs } from 'node:fs';
import { relative } from 'node:path';
import { HozironError, errnoCode } from '../errors.js';
import { AuditLog } from '../stores/audit.js';
import { KeyStore, type CreatedKey } from '../stores/keys.js';
import { MemoryStore } from '../stores/memory.js';
import { ensureDir, writeFileAtomic } from '../fsutil/atomic.js';
import { renderDefaultConfig } from '../home/config.js';
import { DATA_DIRS, HOME_FILES, type HomeLayout } from '../home/layout.js';
import { exists } from '../fsutil/exists.js';

export interface InitResult {
  home: string;
  /** False when the home was already initialised: nothing was changed. */
  created: boolean;
  /** Home-relative paths made by this run, in creation order ("." for the home itself). */
  created_paths: string[];
  /** The first admin key, minted only when this run created keys.db. */
  admin_key: CreatedKey | null;
  /** True when pieces of the home already existed (a half-made home was completed). */
  resumed: boolean;
  /** For an initialised home: expected pieces that are missing (reported, not repaired). */
  missing: string[];
  /** The home directory's previous mode (e.g. `0755`) when init tightened it to 0700. */
  root_mode_tightened_from: string | null;
}

/** The home directory's own mode: it holds secrets, so private to its owner. */
const HOME_DIR_MODE = 0o700;

/** Make an existing home directory 0700 if group or others have any access; the old mode, if changed. */
async function tightenRootMode(home: HomeLayout): Promise<string | null> {
  const st = await fs.lstat(home.root).catch(() => undefined);
  if (!st?.isDirectory() || (st.mode & 0o077) === 0) return null;
  await fs.chmod(home.root, HOME_DIR_MODE);
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

/** The commented `.env` written by init: no secrets, only how to add them. */
const ENV_TEMPLATE = `# Hoziron secrets, one KEY=value per line (dotenv format).
# This file is mode 0600 and is included in full backups: treat archives as secret too.
# Example:
# PROVIDER_API_KEY=...
`;

/** Directories of a home with their modes, parents first. */
function layoutDirs(home: HomeLayout): { rel: string; mode: number }[] {
  const dirs = [
    { path: home.dataDir, mode: 0o755 },
    ...DATA_DIRS.map((d) => ({ path: home.dataSubdir(d), mode: 0o755 })),
    { path: home.runDir, mode: 0o700 },
    // The default storage directory; a configured storage_path only exists once config.toml
    // does, and then init changes nothing (backup create makes that directory 0700).
    { path: home.defaultStorage, mode: 0o700 },
  ];
  return dirs.map((d) => ({ rel: relative(home.root, d.path), mode: d.mode }));
}

/** Run `make` unless `path` exists; a concurrent creator winning the race counts as "existed". */
async function createUnlessPresent(path: string, make: () => Promise<void>): Promise<boolean> {
  if (await exists(path)) return false;
  try {
    await make();
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
}

async function missingPieces(home: HomeLayout): Promise<string[]> {
  const expected = [...Object.values(HOME_FILES), ...layoutDirs(home).map((d) => d.rel)];
  const missing: string[] = [];
  for (const rel of expected) if (!(await exists(home.path(rel)))) missing.push(rel);
  return missing;
}

export async function initHome(home: HomeLayout): Promise<InitResult> {
  const result: InitResult = {
    home: home.root,
    created: false,
    created_paths: [],
    admin_key: null,
    resumed: false,
    missing: [],
    root_mode_tightened_from: null,
  };
  try {
    const st = await fs.stat(home.root);
    if (!st.isDirectory()) throw new HozironError('usage', `${home.root} exists and is not a directory`, 'choose another home directory');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  result.root_mode_tightened_from = await tightenRootMode(home);
  if (await exists(home.config)) {
    result.missing = await missingPieces(home);
    return result;
  }

  const expected = Object.values(HOME_FILES).length + layoutDirs(home).length;
  result.resumed = (await exists(home.root)) && (await missingPieces(home)).length < expected;
  const made = (rel: string) => result.created_paths.push(rel);
  // The home holds secrets: private to its owner when init makes it.
  if (await ensureDir(home.root, HOME_DIR_MODE)) made('.');
  for (const { rel, mode } of layoutDirs(home)) if (await ensureDir(home.path(rel), mode)) made(rel);

  if (await createUnlessPresent(home.env, () => writeFileAtomic(home.env, ENV_TEMPLATE, { mode: 0o600, exclusive: true }))) {
    made(HOME_FILES.env);
  }
  // audit.db before keys.db, so that minting the admin key is recorded.
  if (await createUnlessPresent(home.auditDb, () => AuditLog.create(home.auditDb))) made(HOME_FILES.audit);
  let admin: CreatedKey | null = null;
  if (await createUnlessPresent(home.keysDb, async () => void (admin = await KeyStore.create(home.keysDb)))) {
    made(HOME_FILES.keys);
    // The first ordinary open switches keys.db to WAL (persistent), so it is in its final form.
    KeyStore.open(home.keysDb).close();
    const audit = AuditLog.open(home.auditDb);
    try {
      const key = admin as CreatedKey | null;
      if (key) audit.append('hoziron init', 'key.create', key.id, { id: key.id, role: key.role, name: key.name });
    } finally {
      audit.close();
    }
  }
  result.admin_key = admin;
  if (await createUnlessPresent(home.memoryDb, () => MemoryStore.create(home.memoryDb))) made(HOME_FILES.memory);

  // Last: its presence says "this home is complete".
  if (await createUnlessPresent(home.config, () => writeFileAtomic(home.config, renderDefaultConfig(), { mode: 0o600, exclusive: true }))) {
    made(HOME_FILES.config);
  }
  result.created = result.created_paths.length > 0;
  return result;
}
