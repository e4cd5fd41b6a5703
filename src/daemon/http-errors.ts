/**
 * The one place where an error becomes an HTTP answer (see src/errors.ts). `HozironError` codes
 * map to statuses here; Fastify's own errors (schema validation, bad JSON, body too large,
 * wrong content type) are first translated into `HozironError`s so every error a client sees
 * has the same envelope `{"error": {"code", "message"}}`. Anything else is an internal error
 * whose message is not shown (it may hold paths or values); the daemon log records it.
 * Hints are in the API's words: an error's `remedy` (src/errors.ts) is phrased here as a
 * request field or a route, never as a CLI flag (the CLI's words are in cli/hints.ts).
 */
import type { ApiError } from '../api/types.js';
import { HozironError, type ErrorCode, type Remedy, isHozironError } from '../errors.js';

const STATUS: Record<ErrorCode, number> = {
  usage: 400,
  bad_request: 400,
  too_large: 413,
  unsupported_media_type: 415,
  config_invalid: 500,
  home_missing: 500,
  storage_missing: 503,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  busy: 503,
  archive_invalid: 422,
  identity_required: 422,
  identity_mismatch: 422,
  unsupported_version: 422,
  integrity: 422,
  no_space: 507,
  daemon_running: 409,
  daemon_unreachable: 502,
  io: 500,
  check_failed: 500,
  remote: 502,
  internal: 500,
};

export function statusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: unknown;
  validationContext?: string;
}

/** Translate any thrown value into a HozironError (Fastify's client errors keep their meaning). */
export function toHozironError(err: unknown): HozironError {
  if (isHozironError(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as FastifyLikeError;
  if (e.validation) {
    // Ajv's message names the field: "body/scope must be equal to one of the allowed values".
    return new HozironError('bad_request', `invalid request: ${e.message}`);
  }
  const status = e.statusCode ?? 500;
  if (status === 413) return new HozironError('too_large', 'request body is too large (limit 1 MiB)');
  if (status === 415) return new HozironError('unsupported_media_type', 'request body must be JSON (Content-Type: application/json)');
  if (status === 404) return new HozironError('not_found', e.message);
  if (status >= 400 && status < 500) {
    if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e instanceof SyntaxError) {
      return new HozironError('bad_request', 'request body is not valid JSON');
    }
    return new HozironError('bad_request', e.message);
  }
  return new HozironError('internal', 'internal error (see the daemon log)', undefined, { cause: err });
}

/** What an API client can do about each remedy; undefined: the core's neutral hint stands. */
const API_REMEDIES: Record<Remedy, string | undefined> = {
  init_home: undefined,
  check_home: 'an operator should check the home and its databases on the host',
  list_backups: 'GET /v1/backup/list shows the ids',
  list_keys: undefined,
  skip_checksum:
    'send "checksum": "sha256:<hex>" published where the archive came from, or "verify": false to skip the whole-archive checksum (every entry is still checked)',
  give_identity: 'the daemon decrypts with [backup.encryption] identity_file or HOZIRON_BACKUP_IDENTITY only; set one and restart it',
  give_passphrase:
    'the daemon never decrypts with a passphrase: an operator verifies or restores such an archive on the host, with the daemon stopped',
  stop_daemon: undefined,
  daemon_owns_home: undefined,
  wait_for_stop: undefined,
  other_output: 'retry the request',
  daemon_status: undefined,
  start_daemon: undefined,
  create_backup: 'POST /v1/backup/create makes one',
  tighten_home: undefined,
  send_token: 'send Authorization: Bearer <token> with the token of an API key',
  free_space: 'an operator should free space on the host',
  check_access: 'an operator should make the path writable on the host',
};

/** The hint an API client is shown for `err`, if any. */
function apiHint(err: HozironError): string | undefined {
  return (err.remedy && API_REMEDIES[err.remedy]) ?? err.hint;
}

export function errorBody(err: HozironError): ApiError {
  const hint = apiHint(err);
  return { error: { code: err.code, message: err.message, ...(hint ? { hint } : {}), ...(err.remedy ? { remedy: err.remedy } : {}) } };
}
