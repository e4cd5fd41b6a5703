/**
 * What makes a sound archive restorable: the checks beyond the reader's (which proves every
 * entry against the manifest) that a restore makes before it swaps anything in. One
 * implementation for both callers: `restoreBackup` (preflight and staging) and
 * `verifyBackup`, so `verify` passes exactly the archives a restore would accept.
 *
 * - From the manifest alone: a version that is one, the items an archive of its scope needs
 *   to leave a working home (`REQUIRED_ITEMS`: a full archive its config and every database,
 *   an agents archive the memory database), a `config.toml` of a plausible size, an
 *   `audit.db` when an audit head is given.
 * - From the bytes of `config.toml`: it parses and validates as this version's config.
 * - From each database: a schema version this program can migrate (not newer), and, once at
 *   this version (migrated forward when older), the tables and columns this program uses.
 *
 * These functions throw a HozironError naming the archive and the problem. Only
 * `checkDatabaseSchema` writes: it migrates the staged (or throwaway) copy it is given.
 */
import { closeSync, openSync, readSync, promises as fs } from 'node:fs';
import type { Manifest } from '../archive/manifest.js';
import { HozironError } from '../errors.js';
import { parseConfig, type LoadedConfig } from '../home/config.js';
import { HOME_FILES, REQUIRED_ITEMS, type HomeLayout } from '../home/layout.js';
import { openStore, schemaProblem, type Db } from '../stores/sqlite.js';
import { HOZIRON_VERSION } from '../version.js';
import { STORE_SPECS } from './db-check.js';
import type { StagedFileCheck } from './stage.js';

/** A config.toml larger than this cannot be one this program wrote or reads (it is ~1 KiB). */
const MAX_CONFIG_BYTES = 1024 * 1024;

function semverParts(v: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Version checks beyond the format (which the reader refuses when newer). */
function checkVersions(m: Manifest, path: string, warnings: string[]): void {
  const theirs = semverParts(m.hoziron_version);
  if (!theirs)
    throw new HozironError(
      'archive_invalid',
      `${path}: MANIFEST.json hoziron_version ${JSON.stringify(m.hoziron_version)} is not a version`,
    );
  const ours = semverParts(HOZIRON_VERSION)!;
  const cmp = theirs[0]! - ours[0]! || theirs[1]! - ours[1]! || theirs[2]! - ours[2]!;
  if (cmp > 0)
    warnings.push(
      `the archive was made by hoziron ${m.hoziron_version}, newer than this ${HOZIRON_VERSION}; its databases are checked for schemas this version understands`,
    );
}

/** Refuse an archive without what its scope needs to work (`REQUIRED_ITEMS`). */
function checkRequiredItems(m: Manifest, path: string): void {
  const missing = REQUIRED_ITEMS[m.scope].filter((rel) => m.files.get(rel) === undefined);
  if (missing.length > 0) {
    throw new HozironError(
      'archive_invalid',
      `${path}: a ${m.scope} backup must hold ${missing.join(', ')}, but this archive has no ${missing.join(' and no ')}`,
      'restoring it would leave a home that cannot start; use another backup',
    );
  }
}

/** Everything that can be judged from the manifest alone (see the module header). */
export function checkManifestRestorable(m: Manifest, path: string, warnings: string[]): void {
  checkVersions(m, path, warnings);
  checkRequiredItems(m, path);
  const config = m.files.get(HOME_FILES.config);
  if (config && config.size > MAX_CONFIG_BYTES) {
    throw new HozironError(
      'archive_invalid',
      `${path}: its ${HOME_FILES.config} is ${config.size} bytes, more than the ${MAX_CONFIG_BYTES} allowed`,
    );
  }
  if (m.audit_head && m.files.get(HOME_FILES.audit) === undefined) {
    throw new HozironError('archive_invalid', `${path}: MANIFEST.json gives an audit head but the archive has no audit.db`);
  }
}

/**
 * The archived config.toml must load in this version, or the restored home would not start.
 * Returns it as loaded (a restore's plan lists the settings it changes).
 */
export function checkArchivedConfig(text: Buffer, path: string, home: HomeLayout): LoadedConfig {
  const file = `${path}: ${HOME_FILES.config}`;
  const hint = `this hoziron cannot use the archived ${HOME_FILES.config}; use another backup`;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    throw new HozironError('archive_invalid', `${file}: not valid UTF-8`, hint);
  }
  try {
    // No environment: HOZIRON_LISTEN of this process says nothing about the archived file.
    return parseConfig(decoded, file, home, {});
  } catch (err) {
    if (!(err instanceof HozironError)) throw err;
    throw new HozironError('archive_invalid', err.message, hint);
  }
}

/** Where `stagedConfigCheck` leaves the archived config once it validated. */
export interface StagedConfig {
  cfg?: LoadedConfig;
}

/** `checkArchivedConfig` as a staging file check (stage.ts `fileChecks`): run as soon as the file is written. */
export function stagedConfigCheck(path: string, home: HomeLayout, found: StagedConfig): StagedFileCheck {
  return async (staged) => {
    found.cfg = checkArchivedConfig(await fs.readFile(staged), path, home);
  };
}

/**
 * `PRAGMA user_version` read from the database header (offset 60, big-endian), without
 * opening SQLite: a read-only open of a WAL-mode file would leave -wal/-shm files behind in
 * the staging area, to be swapped in with the database.
 */
function userVersionOf(dbPath: string): number {
  const fd = openSync(dbPath, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    return header.readUInt32BE(60);
  } finally {
    closeSync(fd);
  }
}

/**
 * The schema of the database at `dbPath` (archived as `rel`) must be one this program can
 * use: refused when newer than this program; migrated forward in place when older (the
 * caller's copy: a staged database, or verify's throwaway one), and refused when the
 * migration fails or leaves a schema without what this program uses. A database already
 * current is not opened for writing, so its bytes stay exactly as archived (its schema is
 * checked by db-check.ts). Returns whether the file was migrated (and so needs an fsync).
 */
export function checkDatabaseSchema(dbPath: string, rel: string, path: string): boolean {
  const spec = STORE_SPECS[rel];
  if (!spec) return false;
  const version = userVersionOf(dbPath);
  const target = spec.migrations.length;
  if (version > target) {
    throw new HozironError(
      'unsupported_version',
      `${path}: ${rel} has schema version ${version}, newer than this hoziron understands (${target})`,
      'upgrade hoziron to restore this archive',
    );
  }
  if (version === target) return false;
  const refuse = (why: string) =>
    new HozironError(
      'unsupported_version',
      `${path}: ${rel} has schema version ${version} and cannot be migrated to ${target}: ${why}`,
      'this hoziron cannot open that database; use another backup',
    );
  let db: Db;
  try {
    db = openStore(dbPath, spec);
  } catch (err) {
    // The migration ran in one transaction: a failure left the file as it was.
    throw refuse((err as Error).message);
  }
  try {
    const problem = schemaProblem(db, spec);
    if (problem) throw refuse(`after the migration it ${problem}`);
  } finally {
    db.close();
  }
  return true;
}
