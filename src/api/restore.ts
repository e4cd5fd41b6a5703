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

/** Files of one kind of change, home-relative paths sorted bytewise. */
interface ChangedFiles {
  count: number;
  /** Every path, sorted bytewise. */
  paths: string[];
}

/** A config.toml setting whose restored value differs from the current one. */
export interface RestoreSettingChange {
  /** The key, e.g. `server.listen`, `backup.storage_path` (resolved to a directory). */
  key: string;
  before: string;
  after: string;
  /** Why it matters, when it does more than the value says (e.g. listening beyond this host). */
  note?: string;
}

/** An API key as the plan names it: never its token or hash. */
export interface RestoreKeyRef {
  id: string;
  name: string;
  role: string;
}

/** How the set of usable API keys changes (full restores only; all empty otherwise). */
export interface RestoreKeyChanges {
  /** Usable after the restore but not now: keys the current home does not have. */
  come_back: RestoreKeyRef[];
  /** Usable now but not after the restore: keys the archive does not have, or has revoked. */
  go_away: RestoreKeyRef[];
  /** Revoked in the current home but not in the archive: they stay revoked. */
  kept_revoked: RestoreKeyRef[];
}

/** What a restore changes in the home, by file (home-relative paths). */
export interface RestoreChanges {
  /** In the archive, not in the home. */
  added: ChangedFiles & { bytes: number };
  /** In both: the home's copy is replaced by the archive's (which may hold the same bytes). */
  replaced: ChangedFiles & { bytes_before: number; bytes_after: number };
  /** In the home's scope, not in the archive. */
  removed: ChangedFiles & { bytes: number };
  /** The top-level items that are swapped (e.g. `config.toml`, `data/agents`). */
  items: string[];
  /** Settings of the restored config.toml that change how the platform behaves. */
  behaviour: RestoreSettingChange[];
  keys: RestoreKeyChanges;
}

/** How old the backup is: the work done since it was taken, which a restore discards. */
export interface RestoreSinceBackup {
  /** Seconds from the archive's created_at to now. */
  age_seconds: number;
  /**
   * Audit events in the current home after the backup: after the archive's audit head when
   * the current chain holds it (`basis: "audit_head"`), else after its created_at.
   */
  audit_events: number;
  basis: 'audit_head' | 'created_at';
  /** Time of the newest of those events, or null when there are none. */
  newest_event_at: string | null;
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
  since_backup: RestoreSinceBackup;
  warnings: string[];
}

interface RestoreTimings {
  /** Extraction with every check and the fsync of the staged tree (the sum of the next four). */
  stage_ms: number;
  /** Reading, checksum, gunzip, tar checks and per-entry SHA-256, and writing: overlapped, one figure. */
  extract_ms: number;
  /** Waiting, after the last entry, for the staging writer to drain. */
  write_ms: number;
  /** Waiting, after that, for the database checks (integrity, schema, audit chain) still running. */
  db_check_ms: number;
  /** Waiting, after that, for the staged tree to be durable. */
  fsync_ms: number;
  /** Migrating staged databases of an older schema (and their fsync). */
  migrate_ms: number;
  /** Revocations, the work since the backup, and the check that the current state can be archived. */
  review_ms: number;
  /** Journal, renames, directory fsyncs and the commit record. */
  swap_ms: number;
  /** Audit event, the safety point's marker and the journal's removal. */
  finish_ms: number;
  /** 0: the safety backup is made after the swap, from the state moved aside, by a process of its own. */
  safety_backup_ms: number;
  /** The whole confirmed restore. */
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
  /** Measured just before the swap: the work the restore discarded. */
  since_backup: RestoreSinceBackup;
  timings: RestoreTimings;
  warnings: string[];
}
