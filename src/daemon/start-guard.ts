/**
 * A daemon must not start while a CLI restore runs on its home: the restore would swap the
 * databases out from under it, and every write it acknowledged from then on would be lost.
 * The check is made twice: by `hoziron start` before it launches anything (a quick, clear
 * refusal), and by the daemon itself right after it has taken the daemon lock. That second
 * check is what makes the pair safe: a restore claims its work area before its last look for
 * a daemon, and the daemon takes its lock before its look for a restore, so whichever comes
 * second sees the other and backs off (the restore refuses, or the daemon does not start).
 */
import { findRunningRestore } from '../backup/journal.js';
import { HozironError } from '../errors.js';
import type { HomeLayout } from '../home/layout.js';

/** Throw `busy` while a restore (or its dry run) runs on `home`. */
export async function refuseWhileRestoring(home: HomeLayout): Promise<void> {
  const running = await findRunningRestore(home);
  if (!running) return;
  throw new HozironError(
    'busy',
    `a restore is in progress on ${home.root} (pid ${running.pid ?? 'unknown yet'}); the daemon does not start until it has finished`,
    'wait for the restore to finish, then start the daemon',
  );
}
