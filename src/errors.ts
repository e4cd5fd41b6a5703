/**
 * The one error type of the product. Core code throws `HozironError` with a stable `code`,
 * a message fit to show an operator and an optional hint; only the CLI entry point prints
 * it (and picks the exit code) and only the daemon's error handler maps it to HTTP.
 * Messages never carry secrets: callers pass names and paths, never tokens or values.
 * Core messages and hints never name a CLI flag or command, nor an API field: the same
 * error reaches both. Where the fix is something the caller does (skip the checksum, stop
 * the daemon), the error carries a `remedy` key and each surface phrases it in its own
 * terms (src/cli/hints.ts, src/daemon/http-errors.ts); `hint` is the neutral fallback.
 */

export type ErrorCode =
  | 'usage' // bad flags or arguments (exit 2, HTTP 400)
  | 'bad_request' // bad API body or parameter (HTTP 400)
  | 'too_large' // an API body over the limit (HTTP 413)
  | 'unsupported_media_type' // an API body that is not JSON (HTTP 415)
  | 'config_invalid'
  | 'home_missing'
  | 'storage_missing' // a configured backup storage path that does not exist (HTTP 503)
  | 'not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict' // e.g. the backup lock is held, the daemon already runs
  | 'busy' // the daemon is restoring (HTTP 503)
  | 'archive_invalid' // corrupt, truncated, hostile or inconsistent archive
  | 'identity_required' // an encrypted archive and no (usable) identity file to decrypt it
  | 'identity_mismatch' // none of the identities given can decrypt the archive
  | 'unsupported_version'
  | 'integrity' // a database or the audit chain fails its check
  | 'no_space'
  | 'daemon_running'
  | 'daemon_unreachable'
  | 'io'
  | 'check_failed' // hoziron doctor found a failing check
  | 'remote' // the remote (S3) store refused or failed an operation (HTTP 502)
  | 'internal';

/**
 * What the reader can do about an error, as a stable key that the CLI and the API each
 * phrase (a flag there, a request field or route here). Some use `details` (e.g. a pid).
 */
export type Remedy =
  | 'init_home' // the home has no config.toml
  | 'check_home' // a database cannot be opened or snapshotted: run the offline checks
  | 'list_backups' // no backup with that id
  | 'list_keys' // no API key with that id
  | 'skip_checksum' // no .sha256 sidecar to verify the archive against
  | 'give_identity' // an encrypted archive needs an identity file to be read
  | 'give_passphrase' // a passphrase-encrypted archive (age -p) needs its passphrase
  | 'stop_daemon' // a restore refused while the daemon runs
  | 'daemon_owns_home' // a second daemon refused: one already runs on this home
  | 'wait_for_stop' // the daemon did not exit in time (details: pid, log)
  | 'other_output' // the archive path is already taken
  | 'daemon_status' // the daemon does not answer (details: log)
  | 'start_daemon' // the daemon is not running
  | 'create_backup' // there is no backup yet
  | 'send_token' // a route needs a bearer token
  | 'tighten_home' // the home directory is open to group or others
  | 'free_space' // a disk is full (details: path)
  | 'check_access'; // a path cannot be written: read-only, or its permissions (details: path)

export interface HozironErrorOptions {
  cause?: unknown;
  remedy?: Remedy;
  /** Values a surface may put in its phrasing of the remedy (no secrets). */
  details?: Readonly<Record<string, string | number>>;
}

export class HozironError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly remedy: Remedy | undefined;
  readonly details: Readonly<Record<string, string | number>>;

  constructor(code: ErrorCode, message: string, hint?: string, options?: HozironErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HozironError';
    this.code = code;
    this.hint = hint;
    this.remedy = options?.remedy;
    this.details = options?.details ?? {};
  }
}

export function isHozironError(err: unknown): err is HozironError {
  return err instanceof HozironError;
}

/** Exit codes (docs/operations.md#exit-codes): 2 for bad usage, 1 for any operational failure. */
export function exitCodeFor(err: unknown): number {
  return isHozironError(err) && err.code === 'usage' ? 2 : 1;
}

/** Errno of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** What an operator can do about each errno, phrased neutrally (surfaces phrase the remedy). */
const IO_ADVICE: Record<string, { what: string; remedy: Remedy; hint: string }> = {
  ENOSPC: { what: 'no space left on the device', remedy: 'free_space', hint: 'free some space on that filesystem and try again' },
  EDQUOT: { what: 'the disk quota is exhausted', remedy: 'free_space', hint: 'free some space (or raise the quota) and try again' },
  EROFS: { what: 'the filesystem is read-only', remedy: 'check_access', hint: 'mount it read-write, or choose another path' },
  EACCES: { what: 'permission denied', remedy: 'check_access', hint: 'check the owner and permissions of the path' },
  EPERM: { what: 'operation not permitted', remedy: 'check_access', hint: 'check the owner and permissions of the path' },
};

/**
 * A raw errno error as a HozironError that names the path and what to do: ENOSPC and EDQUOT
 * become `no_space`, everything else `io`. `path` is the one the error concerns when Node
 * did not say (a write on an open file carries none); already-wrapped errors pass through.
 */
export function ioError(err: unknown, path: string): unknown {
  if (isHozironError(err)) return err;
  const code = errnoCode(err);
  if (code === undefined || !/^E[A-Z]+$/.test(code)) return err;
  const where = (err as { path?: unknown }).path;
  const target = typeof where === 'string' ? where : path;
  const advice = IO_ADVICE[code];
  const syscall = (err as { syscall?: unknown }).syscall;
  const what = advice?.what ?? (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ .*$/, '');
  const message = `cannot ${typeof syscall === 'string' ? syscall : 'use'} ${target}: ${what} (${code})`;
  return new HozironError(
    code === 'ENOSPC' || code === 'EDQUOT' ? 'no_space' : 'io',
    message,
    advice?.hint ?? 'check the path and try again',
    {
      cause: err,
      ...(advice ? { remedy: advice.remedy, details: { path: target } } : {}),
    },
  );
}

/** Run `fn`, turning raw errno errors into `ioError`s about `path` (see there). */
export async function withIoContext<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw ioError(err, path);
  }
}
