/**
 * A minimal client of the daemon for the CLI's lifecycle commands (`start` waits on it,
 * `health` and `doctor` print it). Uses Node's fetch; only the health route, which needs no
 * token, so the CLI never has to hold one.
 */
import type { HealthResponse } from '../api/daemon.js';
import { HozironError } from '../errors.js';

function baseUrl(address: string): string {
  return `http://${address}`;
}

/** `GET /v1/health` at `address` (host:port); throws `daemon_unreachable`. */
export async function fetchHealth(address: string, timeoutMs = 5000): Promise<HealthResponse> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl(address)}/v1/health`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new HozironError('daemon_unreachable', `the daemon does not answer at http://${address} (${why})`, 'see run/daemon.log', {
      remedy: 'daemon_status',
    });
  }
  if (!res.ok) {
    throw new HozironError('daemon_unreachable', `the daemon at http://${address} answered health with HTTP ${res.status}`);
  }
  return (await res.json()) as HealthResponse;
}
