/**
 * Wire types of the daemon's HTTP API (README.md#api): request bodies and response shapes shared
 * by the routes in `src/daemon/routes/`, by the CLI commands that call the daemon and by the
 * tests. Backup records themselves are `BackupRecord` in `./types.ts`.
 */
import type { BackupRecord, RemoteStatus } from './types.js';

/**
 * Why the daemon is degraded (docs/operations.md#health): a stable `code` for monitoring and a
 * message for people. Messages name no paths (health needs no token); `GET /v1/backup/status`
 * has the details.
 */
export interface HealthReason {
  code:
    | 'scheduled_backup_failed' // the last scheduled backup failed, and no backup has succeeded since
    | 'backup_stale' // the newest backup (or, with none, the daemon's start) is older than two schedule periods
    | 'storage_missing' // the backup storage path does not exist
    | 'storage_unwritable' // it is not a directory, or a file cannot be created in it
    | 'upload_failed'; // with [backup.remote]: the last upload failed and backups wait to be uploaded
  message: string;
}

/** `GET /v1/health` (no auth). Always HTTP 200 while the daemon answers: a degraded daemon still serves. */
export interface HealthResponse {
  /** `ok` while serving; `degraded` when backups are failing or at risk (see `reasons`); `restoring` while a live restore swaps the state. */
  status: 'ok' | 'degraded' | 'restoring';
  /** Empty unless `degraded`. */
  reasons: HealthReason[];
  version: string;
  uptime_seconds: number;
  pid: number;
  started_at: string;
}

/** `PUT /v1/agents/{agent}/kv/{key}` body. */
export interface KvPutRequest {
  value: unknown;
}

/** One key of an agent: `GET /v1/agents/{agent}/kv/{key}` and the answer to a PUT. */
export interface KvEntryResponse {
  key: string;
  value: unknown;
  updated_at: string;
}

/** `GET /v1/agents/{agent}/kv`. */
export interface KvListResponse {
  agent: string;
  entries: KvEntryResponse[];
}

/** `POST /v1/agents/{agent}/sessions`: append one message to a session. */
export interface SessionAppendRequest {
  session: string;
  role: string;
  content: string;
}

export interface SessionMessageResponse {
  id: number;
  agent: string;
  session: string;
  role: string;
  content: string;
  created_at: string;
}

/** `POST /v1/backup/create`. */
export interface BackupCreateRequest {
  scope?: 'full' | 'agents';
}

/** `POST /v1/backup/verify`: exactly one of id or file. */
/** `POST /v1/backup/push`: one backup (id or file name) or all that the remote does not hold. */
export interface BackupPushRequest {
  id?: string;
  all?: true;
}

/** `POST /v1/backup/pull`: a remote backup (id or file name) to download into the storage path. */
export interface BackupPullRequest {
  id: string;
}

export interface BackupVerifyRequest {
  id?: string;
  file?: string;
  /** `sha256:<hex>` to compare the archive with instead of its `.sha256` sidecar. */
  checksum?: string;
}

/** `POST /v1/backup/restore`: exactly one of id or file (inside the storage path). */
export interface BackupRestoreRequest {
  id?: string;
  file?: string;
  dry_run?: boolean;
  verify?: boolean;
  /** `sha256:<hex>` to verify the archive against instead of its `.sha256` sidecar. */
  checksum?: string;
  /**
   * An age identity file to decrypt an encrypted archive with, instead of the daemon's own
   * (`[backup.encryption] identity_file`, HOZIRON_BACKUP_IDENTITY). Accepted only with a local
   * credential: a CLI restore handing its `--identity` to the daemon of its home.
   */
  identity_file?: string;
}

/** `GET /v1/backup/{id}`: the record plus its manifest summary (as `hoziron backup show --json`). */
export type BackupShowResponse = BackupRecord & { manifest: unknown };

/** `GET /v1/backup/status`. */
export interface BackupStatusResponse {
  /** The configured cron expression ("" when scheduling is off). */
  schedule: string;
  next_run: string | null;
  /** A backup (any trigger) is running in this daemon now. */
  running: boolean;
  last_success: { at: string; id: string; trigger: BackupTrigger } | null;
  last_attempt: BackupAttempt | null;
  /** The last attempt of the schedule (a slot, or a missed slot after a restart). */
  last_scheduled: BackupAttempt | null;
  /** With `[backup.remote]`: the uploads' state (last attempt and error, pending, next retry); null without. */
  remote: RemoteStatus | null;
  /**
   * The storage path and what it holds. `ok: false` with `error` when it is missing, not a
   * directory, not writable or cannot be listed (then the counts are null): the route still
   * answers 200, since the operator can fix it.
   */
  storage: {
    path: string;
    ok: boolean;
    error: string | null;
    archives: number | null;
    used_bytes: number | null;
    free_bytes: number | null;
  };
}

export interface BackupAttempt {
  at: string;
  trigger: BackupTrigger;
  ok: boolean;
  error: string | null;
}

export type BackupTrigger = 'api' | 'schedule' | 'missed-schedule' | 'shutdown';

/** What `hoziron status --json` prints and `readDaemonStatus` returns. */
export interface DaemonStatus {
  running: boolean;
  /** The daemon's pid; in its own PID namespace when `local` is false. */
  pid?: number;
  address?: string;
  started_at?: string;
  /** Present (false) when the daemon runs in another PID namespace, boot or host than the caller. */
  local?: false;
  /** The daemon's host name, when `local` is false. */
  host?: string;
}

/** `GET /v1/auth/whoami` (viewer): the key the request was made with, so a client can offer only what its role allows. */
export interface WhoAmIResponse {
  id: string;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
}
