/**
 * The one error type of the product. Core code throws `HozironError` with a stable `code`,
 * a message fit to show an operator and an optional hint; only the CLI entry point prints
 * it (and picks the exit code) and only the daemon's error handler maps it to HTTP.
 * Messages never carry secrets: callers pass names and paths, never tokens or values.
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
  | 'unsupported_version'
  | 'integrity' // a database or the audit chain fails its check
  | 'no_space'
  | 'daemon_running'
  | 'daemon_unreachable'
  | 'io'
  | 'check_failed' // hoziron doctor found a failing check
  | 'internal';

export class HozironError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HozironError';
    this.code = code;
    this.hint = hint;
  }
}

export function isHozironError(err: unknown): err is HozironError {
  return err instanceof HozironError;
}

/** Exit code convention of SPEC §4: 2 for bad usage, 1 for any operational failure. */
export function exitCodeFor(err: unknown): number {
  return isHozironError(err) && err.code === 'usage' ? 2 : 1;
}

/** Errno of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
