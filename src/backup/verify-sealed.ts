/**
 * `backup verify` of an encrypted archive without an identity: what can be proved without
 * the key. The whole file's SHA-256 against the one recorded when it was made, and the age
 * header's structure (version, stanzas, MAC line; whether it is a passphrase's). The header MAC, the payload and
 * everything inside need the file key; the report lists them as not checked, and
 * `last_verified_at` is not set. Reads only; writes nothing.
 */
import { inspectAgeHeader } from '../crypto/age.js';
import { HozironError } from '../errors.js';
import { sha256File, type CatalogEntry } from './catalog.js';
import type { ExpectedChecksum } from './sidecars.js';
import type { VerifyReport } from '../api/types.js';

/** A verify report of a sealed archive: the encryption fields are always there. */
type SealedReport = VerifyReport & { encrypted: true; recipients: number; passphrase: boolean; unchecked: string[] };

/** What a verify without an identity cannot check. */
const UNCHECKED_WITHOUT_IDENTITY = [
  'the age header MAC',
  'the encrypted payload',
  'every entry against the manifest',
  'the databases',
  'the audit chain',
];

export async function verifySealedArchive(entry: CatalogEntry, expected: ExpectedChecksum): Promise<SealedReport> {
  const path = entry.record.path;
  const header = await inspectAgeHeader(path);
  const actual = await sha256File(path);
  if (expected.sha256 !== undefined && actual !== expected.sha256) {
    throw new HozironError(
      'archive_invalid',
      `${path}: checksum mismatch: the archive's SHA-256 is ${actual}, expected ${expected.sha256} (from ${expected.source === 'operator' ? 'the checksum given' : `${path}.sha256`})`,
      'the archive was corrupted or altered after it was made; use another backup',
    );
  }
  const m = entry.summary.manifest;
  return {
    ok: true,
    id: m.id,
    path,
    checksum: `sha256:${actual}`,
    checksum_verified: expected.source !== 'none',
    checksum_source: expected.source,
    scope: entry.record.scope,
    files: m.file_count,
    dirs: m.dir_count,
    unpacked_bytes: m.unpacked_bytes,
    databases_checked: [],
    audit_head: m.audit_head,
    verified_at: new Date().toISOString(),
    warnings: [],
    encrypted: true,
    recipients: Object.values(header.stanzas).reduce((a, b) => a + b, 0),
    passphrase: header.stanzas.scrypt !== undefined,
    unchecked: UNCHECKED_WITHOUT_IDENTITY,
  };
}
