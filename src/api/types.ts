/**
 * Wire types shared by the CLI's --json output, the daemon's routes and their tests.
 * A backup record is the documented shape (docs/format.md#sidecars) plus added fields.
 */

type RecordScope = 'full' | 'agents' | 'pre-restore';

/**
 * What an archive's whole-file SHA-256 was compared with in a verify or restore: its `.sha256`
 * sidecar, a value the operator gave, or nothing (none recorded, or the check was skipped).
 */
export type ChecksumSource = 'sidecar' | 'operator' | 'none';

export interface BackupRecord {
  id: string;
  path: string;
  scope: RecordScope;
  created_at: string;
  /** `sha256:<hex>` of the whole archive file. */
  checksum: string;
  size_bytes: number;
  /** Added: the archive's file name, relative to the storage path (`pre-restore/…` for safety backups). */
  file?: string;
  /** Added: the scope the archive's manifest declares (what a restore replaces). */
  manifest_scope?: 'full' | 'agents';
  /** Added: number of files and their total unpacked size. */
  file_count?: number;
  unpacked_bytes?: number;
  hoziron_version?: string;
  /** Added: when `backup verify` last passed on this archive, if ever. */
  last_verified_at?: string | null;
  /** Added: how long the create took, wall time (records made before this field have none). */
  duration_ms?: number;
  /** Added: an age-encrypted archive (`….tar.gz.age`); its contents need an identity to read. */
  encrypted?: boolean;
  /** Added, with `[backup.remote]`: where the backup is (in the storage path, on the remote, or both). */
  location?: BackupLocation;
  /** Added to a create's record with `[backup.remote]`: how its upload went (`error` when it failed). */
  upload?: { ok: boolean; error?: string };
  /** Added, by create only: where its time went, milliseconds per phase (and members reused). */
  timings?: Record<string, number>;
  /**
   * Added: a restore's safety backup still being made from the state the restore moved aside
   * (no archive yet: `checksum` is empty, `size_bytes` 0, `path` where it will be).
   */
  pending?: boolean;
}

export type BackupLocation = 'local' | 'remote' | 'both';

/** `backup push` and `POST /v1/backup/push`: what was uploaded, found there already, or failed. */
export interface PushResult {
  remote: string;
  uploaded: string[];
  already: string[];
  failed: { file: string; error: string }[];
}

/** The remote's state (`GET /v1/backup/status` `remote`, `doctor`, metrics): from run/remote-state.json. */
export interface RemoteStatus {
  url: string;
  last_attempt: { at: string; ok: boolean; file: string | null; error: string | null } | null;
  last_success: { at: string; file: string } | null;
  /** Consecutive failed attempts; 0 after a success. */
  failures: number;
  /** Archives of the storage path whose upload failed and is to be retried. */
  pending: string[];
  /** When the daemon retries them (backoff). */
  next_retry_at: string | null;
}

/** One archive in a prune's outcome, and why it was deleted, kept or left. */
export type PruneEntry = BackupRecord & { reason: string };

/** What `backup prune` did (or, with `dry_run`, would do). */
export interface PruneResult {
  dry_run: boolean;
  /** How many good backups of each scope are kept (pre-restore backups: their own 3). */
  keep: number;
  deleted: PruneEntry[];
  kept: PruneEntry[];
  /** Archives that fail their checksum: never counted as kept, never deleted by retention. */
  broken: PruneEntry[];
}

export interface ApiError {
  /** `remedy`: the stable key of what the caller can do (src/errors.ts), for clients that phrase it themselves. */
  error: { code: string; message: string; hint?: string; remedy?: string };
}

/** `backup verify --json` and `POST /v1/backup/verify`: what was checked and how. */
export interface VerifyReport {
  ok: true;
  id: string;
  path: string;
  checksum: string;
  /** True only when the archive matched a checksum recorded elsewhere (sidecar or operator). */
  checksum_verified: boolean;
  /** What the checksum was compared with; `none`: no recorded checksum (every entry still checked). */
  checksum_source: ChecksumSource;
  scope: string;
  files: number;
  dirs: number;
  unpacked_bytes: number;
  databases_checked: string[];
  audit_head: { seq: number; hash: string } | null;
  verified_at: string;
  /** What could not be done but does not make the archive unsound (e.g. recording the result). */
  warnings: string[];
  /** An age-encrypted archive. */
  encrypted?: boolean;
  /** Encrypted, without an identity: how many recipient stanzas its header holds. */
  recipients?: number;
  /** Encrypted, without an identity: true when its one stanza is a passphrase's (scrypt, `age -p`). */
  passphrase?: boolean;
  /** Encrypted, without an identity: what could not be checked (the rest was). */
  unchecked?: string[];
}
