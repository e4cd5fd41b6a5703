/**
 * `verifyBackup`: prove an archive complete and sound by staging it with `stageArchive`
 * (the very checks a restore makes: whole-archive checksum, every entry against the
 * manifest, no entry missing or extra, `PRAGMA integrity_check` of each database, the audit
 * chain up to the manifest's head) into a temporary directory in the storage path, then
 * deleting it. On success the summary sidecar records `last_verified_at`.
 *
 * Crash safety: the home and the archive are only read. The staging directory is a
 * temporary name of ours (`.hoziron-tmp-<pid>-<hex>.verify`), removed on success and on
 * failure; a killed verify leaves it to the next backup command's `removeLeftovers`. Verify
 * takes no lock: it changes no archive, and a long verify must not block scheduled backups.
 */
import { promises as fs } from 'node:fs';
import type { AuditHead } from '../stores/audit.js';
import { tempPathIn } from '../fsutil/temp.js';
import type { LoadedConfig } from '../home/config.js';
import { DATABASES } from '../home/layout.js';
import { isAgeName } from '../crypto/age.js';
import { loadIdentities } from './archive-keys.js';
import { findCatalogEntry, isInStorage } from './catalog.js';
import { readAnySummary, readChecksum, summarizeManifest, summarySidecar, writeSummary } from './sidecars.js';
import { stageArchive } from './stage.js';
import { ensureStorage } from './storage.js';
import { verifySealedArchive } from './verify-sealed.js';

export interface VerifyReport {
  ok: true;
  id: string;
  path: string;
  checksum: string;
  /** False when no checksum was ever recorded for this archive (entries are still checked). */
  checksum_verified: boolean;
  scope: string;
  files: number;
  dirs: number;
  unpacked_bytes: number;
  databases_checked: string[];
  audit_head: AuditHead | null;
  verified_at: string;
  /** An age-encrypted archive. */
  encrypted?: boolean;
  /** Encrypted, without an identity: how many recipient stanzas its header holds. */
  recipients?: number;
  /** Encrypted, without an identity: what could not be checked (the rest was). */
  unchecked?: string[];
}

export interface VerifyOptions {
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
  /** Where an encrypted archive's plaintext is staged (in the home, not the storage path). */
  workDir?: string;
}

export async function verifyBackup(cfg: LoadedConfig, idOrFile: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const entry = await findCatalogEntry(cfg, idOrFile);
  const path = entry.record.path;
  // What was recorded when the archive was made: the .sha256 sidecar, else the summary's.
  const recorded = (await readChecksum(path)) ?? (await readAnySummary(path))?.checksum.replace(/^sha256:/, '');
  const encrypted = isAgeName(path);
  const identities = encrypted ? await loadIdentities(cfg, opts.onWarning) : undefined;
  if (encrypted && !identities) return verifySealedArchive(entry, recorded);
  await ensureStorage(cfg);
  const staging = tempPathIn(encrypted && opts.workDir ? opts.workDir : cfg.storageDir, 'verify');
  const before = await fs.stat(path);
  let result;
  try {
    result = await stageArchive(path, staging, {
      verifyChecksum: recorded !== undefined,
      expectedSha256: recorded,
      identities,
      onProgress: opts.onProgress,
    });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
  const { manifest, archiveSha256 } = result;
  const verifiedAt = new Date().toISOString();
  const persist =
    isInStorage(cfg, path) ||
    (await fs.stat(summarySidecar(path)).then(
      () => true,
      () => false,
    ));
  if (
    persist &&
    (await fs.stat(path).then(
      () => true,
      () => false,
    ))
  ) {
    await writeSummary(path, {
      summary_format: 1,
      archive: { size: before.size, mtime_ms: before.mtimeMs },
      kind: entry.summary.kind,
      checksum: `sha256:${archiveSha256}`,
      manifest: summarizeManifest(manifest),
      last_verified_at: verifiedAt,
      ...(entry.summary.duration_ms !== undefined ? { duration_ms: entry.summary.duration_ms } : {}),
    });
  }
  return {
    ok: true,
    id: manifest.id,
    path,
    checksum: `sha256:${archiveSha256}`,
    checksum_verified: recorded !== undefined,
    scope: entry.record.scope,
    files: manifest.files.length,
    dirs: manifest.dirs.length,
    unpacked_bytes: manifest.files.reduce((n, f) => n + f.size, 0),
    databases_checked: manifest.files.map((f) => f.path).filter((p) => (DATABASES as readonly string[]).includes(p)),
    audit_head: manifest.audit_head,
    verified_at: verifiedAt,
    ...(encrypted ? { encrypted } : {}),
  };
}
