/**
 * `run/backup-state.json`: what the daemon remembers about its backups across restarts —
 * the last attempt (and its error), the last scheduled attempt, the last success, and the last
 * schedule slot it handled,
 * which is how a slot missed while the daemon was down is recognised at the next start.
 * It lives in `run/` (never archived, never restored over) because it describes this
 * installation's daemon, not the state being backed up. Written atomically; a missing or
 * unreadable file means "no history", never an error.
 */
import { readFileSync } from 'node:fs';
import type { BackupAttempt, BackupTrigger } from '../api/daemon.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import type { HomeLayout } from '../home/layout.js';

export interface BackupState {
  last_attempt: BackupAttempt | null;
  /** The last attempt by the schedule (trigger `schedule` or `missed-schedule`): what health judges. */
  last_scheduled: BackupAttempt | null;
  last_success: { at: string; id: string; trigger: BackupTrigger } | null;
  /** The most recent schedule slot the daemon ran (or deliberately skipped), RFC 3339. */
  last_slot: string | null;
}

export function readBackupState(home: HomeLayout): BackupState {
  try {
    const doc = JSON.parse(readFileSync(home.backupState, 'utf8')) as Partial<BackupState>;
    return {
      last_attempt: doc.last_attempt ?? null,
      last_scheduled: doc.last_scheduled ?? null,
      last_success: doc.last_success ?? null,
      last_slot: doc.last_slot ?? null,
    };
  } catch {
    return { last_attempt: null, last_scheduled: null, last_success: null, last_slot: null };
  }
}

export async function writeBackupState(home: HomeLayout, state: BackupState): Promise<void> {
  await writeFileAtomic(home.backupState, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}
