/**
 * The console's client of the daemon: the same routes and the same wire types (src/api/) as
 * any client. The API key lives in sessionStorage (gone when the tab closes) and is sent as
 * the bearer header; errors keep the API's `{error: {code, message}}` and HTTP status.
 */
import type { BackupStatusResponse, HealthResponse, WhoAmIResponse } from '../../src/api/daemon.js';
import type { RestorePlan, RestoreResult } from '../../src/api/restore.js';
import type { ApiError, BackupRecord } from '../../src/api/types.js';

export type { BackupStatusResponse, RestorePlan, RestoreResult, WhoAmIResponse };

/** Health as this console reads it: a daemon may answer `degraded` with the reasons. */
export type ConsoleHealth = Omit<HealthResponse, 'status'> & { status: HealthResponse['status'] | 'degraded'; reasons?: string[] };

/** A record, with the fields a later daemon may add (where it is kept, whether it is encrypted). */
export type ConsoleRecord = BackupRecord & { location?: string; encrypted?: boolean };

export type Role = WhoAmIResponse['role'];

const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

const TOKEN_KEY = 'hoziron.token';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiFailure> {
  try {
    const body = (await res.json()) as ApiError;
    return new ApiFailure(res.status, body.error.code, body.error.message);
  } catch {
    return new ApiFailure(res.status, 'http', `HTTP ${res.status}`);
  }
}

export class Api {
  constructor(private readonly token: string) {}

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw await failure(res);
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.call(method, path, body)).json()) as T;
  }

  whoami = () => this.json<WhoAmIResponse>('GET', '/v1/auth/whoami');
  status = () => this.json<BackupStatusResponse>('GET', '/v1/backup/status');
  list = () => this.json<ConsoleRecord[]>('GET', '/v1/backup/list');
  create = (scope: 'full' | 'agents') => this.json<ConsoleRecord>('POST', '/v1/backup/create', { scope });
  verify = (id: string) => this.json<{ ok: boolean }>('POST', '/v1/backup/verify', { id });
  remove = (id: string) => this.json<{ deleted: ConsoleRecord }>('DELETE', `/v1/backup/${encodeURIComponent(id)}`);
  plan = (id: string) => this.json<RestorePlan>('POST', '/v1/backup/restore', { id, dry_run: true });
  restore = (id: string) => this.json<RestoreResult>('POST', '/v1/backup/restore', { id });

  /** The archive as a Blob (the bearer header rules out a plain link). */
  async download(id: string): Promise<{ blob: Blob; name: string }> {
    const res = await this.call('GET', `/v1/backup/${encodeURIComponent(id)}/download`);
    const m = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '');
    return { blob: await res.blob(), name: m?.[1] ?? `${id}.tar.gz` };
  }
}

/** Health needs no key. */
export async function fetchHealth(): Promise<ConsoleHealth> {
  const res = await fetch('/v1/health');
  if (!res.ok) throw await failure(res);
  return (await res.json()) as ConsoleHealth;
}
