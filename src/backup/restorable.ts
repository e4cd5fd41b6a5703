/**
 * What makes a sound archive restorable: the checks beyond the reader's (which proves every
 * entry against the manifest) that a restore makes before it swaps anything in. One
 * implementation for both callers: `restoreBackup` (preflight and staging) and
 * `verifyBackup`, so `verify` passes exactly the archives a restore would accept.
 *
 * - From the manifest alone: a version that is one, a full archive holding the files a
 *   working home needs, a `config.toml` of a plausible size, an `audit.db` when an audit head
 *   is given.
 * - From the bytes of `config.toml`: it parses and validates as this version's config.
 * - From each database's header: a schema version this program can migrate (not newer).
 *
 * These functions only read; they throw a HozironError naming the archive and the problem.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Manifest } from '../archive/manifest.js';
import { HozironError } from '../errors.js';
import { parseConfig } from '../home/config.js';
import { HOME_FILES, REQUIRED_FULL_FILES, type HomeLayout } from '../home/layout.js';
import { AUDIT_SPEC } from '../stores/audit.js';
import { KEYS_SPEC } from '../stores/keys.js';
import { MEMORY_SPEC } from '../stores/memory.js';
import type { StoreSpec } from '../stores/sqlite.js';
import { HOZIRON_VERSION } from '../version.js';

/** The stores an archive may hold, by home-relative path. */
export const STORE_SPECS: Readonly<Record<string, StoreSpec>> = {
  [HOME_FILES.keys]: KEYS_SPEC,
  [HOME_FILES.audit]: AUDIT_SPEC,
  [HOME_FILES.memory]: MEMORY_SPEC,
};

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

/** Everything that can be judged from the manifest alone (see the module header). */
export function checkManifestRestorable(m: Manifest, path: string, warnings: string[]): void {
  checkVersions(m, path, warnings);
  if (m.scope === 'full') {
    const missing = REQUIRED_FULL_FILES.filter((rel) => m.files.get(rel) === undefined);
    if (missing.length > 0) {
      throw new HozironError(
        'archive_invalid',
        `${path}: this full archive lacks ${missing.join(', ')}; restoring it would leave the home unusable`,
        'restore from another backup',
      );
    }
  }
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

/** The archived config.toml must load in this version, or the restored home would not start. */
export function checkArchivedConfig(text: Buffer, path: string, home: HomeLayout): void {
  try {
    // No environment: HOZIRON_LISTEN of this process says nothing about the archived file.
    parseConfig(new TextDecoder('utf-8', { fatal: true }).decode(text), `${HOME_FILES.config} in the archive`, home, {});
  } catch (err) {
    const why = err instanceof HozironError ? err.message : `${HOME_FILES.config} in the archive is not valid UTF-8`;
    throw new HozironError('archive_invalid', `${path}: restoring it would leave the home unusable: ${why}`, 'restore from another backup');
  }
}

/**
 * `PRAGMA user_version` read from the database header (offset 60, big-endian), without
 * opening SQLite: a read-only open of a WAL-mode file would leave -wal/-shm files behind.
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
 * Whether the database at `dbPath` (archived as `rel`) needs migrating forward; refuses one
 * whose schema is newer than this program understands.
 */
export function needsMigration(dbPath: string, rel: string, path: string): boolean {
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
  return version < target;
}
