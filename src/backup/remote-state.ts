/**
 * `run/remote-state.json`: what became of the uploads to the remote, for status, health,
 * doctor, metrics and the daemon's retries. Written atomically by whoever uploads (CLI or
 * daemon, always under the backup lock); a missing or unreadable file is a remote with no
 * history. It holds file names and store answers, never a credential.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { RemoteStatus } from '../api/types.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import type { HomeLayout } from '../home/layout.js';

const stateSchema = z.object({
  last_attempt: z.object({ at: z.string(), ok: z.boolean(), file: z.string().nullable(), error: z.string().nullable() }).nullable(),
  last_success: z.object({ at: z.string(), file: z.string() }).nullable(),
  failures: z.number().int().nonnegative(),
  pending: z.array(z.string()),
  pending_aborts: z.array(z.object({ key: z.string(), upload_id: z.string() })),
  next_retry_at: z.string().nullable(),
});

export type RemoteState = z.infer<typeof stateSchema>;

/** Retry backoff: 1 minute after the first failure, doubling, at most an hour. */
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 3_600_000;

export function retryDelayMs(failures: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, Math.min(failures - 1, 10)));
}

function empty(): RemoteState {
  return { last_attempt: null, last_success: null, failures: 0, pending: [], pending_aborts: [], next_retry_at: null };
}

export function readRemoteState(home: HomeLayout): RemoteState {
  try {
    const parsed = stateSchema.safeParse(JSON.parse(readFileSync(home.remoteState, 'utf8')));
    return parsed.success ? parsed.data : empty();
  } catch {
    return empty();
  }
}

export async function writeRemoteState(home: HomeLayout, state: RemoteState): Promise<void> {
  await writeFileAtomic(home.remoteState, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** The state as the wire shows it (status route, doctor). */
export function remoteStatus(home: HomeLayout, url: string): RemoteStatus {
  const s = readRemoteState(home);
  return {
    url,
    last_attempt: s.last_attempt,
    last_success: s.last_success,
    failures: s.failures,
    pending: s.pending,
    next_retry_at: s.next_retry_at,
  };
}
