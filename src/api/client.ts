/**
 * A minimal client of the daemon for the CLI: `start` waits on health, `health` and `doctor`
 * print it (no token needed), and a CLI restore on a home whose daemon runs posts the restore
 * to the daemon with a one-shot local credential (daemon/local-credential.ts). Health uses
 * Node's fetch; the restore uses `node:http`, which has no response timeout of its own (fetch
 * gives up after 5 minutes without headers, and a restore of a large home can take longer).
 */
import { request as httpRequest } from 'node:http';
import type { HealthResponse } from '../api/daemon.js';
import type { ApiError } from '../api/types.js';
import { HozironError, type ErrorCode, type Remedy } from '../errors.js';

function baseUrl(address: string): string {
  return `http://${address}`;
}

function unreachable(address: string, why: string): HozironError {
  return new HozironError('daemon_unreachable', `the daemon does not answer at http://${address} (${why})`, 'see run/daemon.log', {
    remedy: 'daemon_status',
  });
}

/** `GET /v1/health` at `address` (host:port); throws `daemon_unreachable`. */
export async function fetchHealth(address: string, timeoutMs = 5000): Promise<HealthResponse> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl(address)}/v1/health`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw unreachable(address, (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
  }
  if (!res.ok) {
    throw new HozironError('daemon_unreachable', `the daemon at http://${address} answered health with HTTP ${res.status}`);
  }
  return (await res.json()) as HealthResponse;
}

/** The daemon's error envelope as the HozironError it was (same codes and remedies: our own daemon). */
function fromEnvelope(status: number, text: string): HozironError {
  let body: Partial<ApiError> | undefined;
  try {
    body = JSON.parse(text) as Partial<ApiError>;
  } catch {
    /* not our envelope */
  }
  const e = body?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string') {
    return new HozironError('daemon_unreachable', `the daemon answered HTTP ${status} without an error body`);
  }
  return new HozironError(e.code as ErrorCode, e.message, e.hint, e.remedy ? { remedy: e.remedy as Remedy } : undefined);
}

/** POST a JSON body with a bearer token and wait, however long, for the JSON answer. */
export function postJson<T>(address: string, path: string, token: string, body: unknown): Promise<T> {
  const payload = JSON.stringify(body);
  return new Promise<T>((resolvePromise, reject) => {
    const req = httpRequest(`${baseUrl(address)}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
      },
    });
    req.on('error', (err) => reject(unreachable(address, (err as NodeJS.ErrnoException).code ?? err.message)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(unreachable(address, err.message)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return reject(fromEnvelope(status, text));
        try {
          resolvePromise(JSON.parse(text) as T);
        } catch {
          reject(new HozironError('daemon_unreachable', `the daemon answered ${path} with a body that is not JSON`));
        }
      });
    });
    req.end(payload);
  });
}
