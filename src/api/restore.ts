/**
 * Wire types of a restore: what `hoziron backup restore --json` prints and what
 * `POST /v1/backup/restore` answers. A dry run answers a plan; a confirmed restore a result.
 */
import type { BackupRecord, ChecksumSource } from './types.js';

export interface RestoreArchiveInfo {
  path: string;
  id: string;
  created_at: string;
  scope: 'full' | 'agents';
  format: number;
  hoziron_version: string;
  file_count: number;
  unpacked_bytes: number;
}

/** What a restore changes in the home, by file (home-relative paths). */
export interface RestoreChanges {
  added: { count: number; bytes: number };
  replaced: { count: number; bytes_before: number; bytes_after: number };
  removed: { count: number; bytes: number };
  /** The top-level items that are swapped (e.g. `config.toml`, `data/agents`). */
  items: string[];
}

export interface RestorePlan {
  dry_run: true;
  /** True when `--confirm` would go ahead. */
  restorable: boolean;
  /** Why it would be refused (e.g. the daemon runs), when not restorable. */
  refusal?: string;
  archive: RestoreArchiveInfo;
  /** Whether the whole-archive checksum was verified (false with --no-verify). */
  checksum_verified: boolean;
  /** What it was compared with: the `.sha256` sidecar, the operator's value, or nothing (skipped). */
  checksum_source: ChecksumSource;
  changes: RestoreChanges;
  warnings: string[];
}

interface RestoreTimings {
  /** Extraction with every check, database migrations and fsync: the restore proper. */
  stage_ms: number;
  safety_backup_ms: number;
  swap_ms: number;
  /** Everything but the safety backup. */
  restore_ms: number;
  total_ms: number;
}

export interface RestoreResult {
  dry_run: false;
  restore_id: string;
  archive: RestoreArchiveInfo;
  checksum_verified: boolean;
  checksum_source: ChecksumSource;
  safety_backup: BackupRecord | null;
  changes: RestoreChanges;
  timings: RestoreTimings;
  warnings: string[];
}
