/**
 * Doctor's view of the home's locks (docs/operations.md#lock-files): for the backup lock and the daemon lock,
 * whether one is held, by whom (operation, pid, host), since when, its last heartbeat, the
 * judgment of its owner, and how to clear it. `breakNamedLock` is the operator's way to
 * clear one (`hoziron doctor --break-lock <name>`); it refuses while the owner is alive and
 * beating. Reading never changes a lock: a stale one is left to the next operation's takeover.
 */
import { HozironError } from '../errors.js';
import { breakLock, describeLock, inspectLock, isBreakable, type LockState } from '../fsutil/lock.js';
import { STALE_AFTER_MS } from '../fsutil/owner.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { backupLockPath } from '../backup/lock.js';
import type { DoctorCheck, Finding } from './doctor.js';

export const LOCK_NAMES = ['backup', 'daemon'] as const;
export type LockName = (typeof LOCK_NAMES)[number];

function lockPathOf(name: LockName, home: HomeLayout, cfg: LoadedConfig | undefined): string {
  if (name === 'daemon') return home.daemonLock;
  if (!cfg) throw new HozironError('config_invalid', 'the backup lock lives in the storage directory, and the config did not load');
  return backupLockPath(cfg.storageDir);
}

function finding(name: LockName, s: LockState): Finding {
  const clear = `\`hoziron doctor --break-lock ${name}\``;
  const line = `${name} lock ${s.path}: ${describeLock(s)}`;
  if (s.judgment.state === 'stale') {
    const next = name === 'daemon' ? 'the next `hoziron start`' : 'the next backup operation';
    return { status: 'warn', message: `${line}; ${next} takes it over, or clear it now with ${clear}` };
  }
  if (isBreakable(s)) {
    return {
      status: 'fail',
      message: `${line}; its process runs but has not beaten for over ${STALE_AFTER_MS / 1000} s (hung?): stop it, or clear the lock with ${clear}`,
    };
  }
  const how = s.judgment.local
    ? name === 'daemon'
      ? 'stop it with `hoziron stop`'
      : 'it is removed when the operation ends'
    : 'it runs elsewhere (another container, pod or host); it is removed when that process ends';
  return { status: 'ok', message: `${line}; held: ${how}` };
}

export const locksCheck: DoctorCheck = {
  name: 'locks',
  run: async ({ home, cfg }) => {
    const found: Finding[] = [];
    for (const name of LOCK_NAMES) {
      if (name === 'backup' && !cfg) {
        found.push({ status: 'warn', message: 'backup lock not checked: the config did not load' });
        continue;
      }
      const s = await inspectLock(lockPathOf(name, home, cfg));
      if (s) found.push(finding(name, s));
    }
    return found.length > 0 ? found : { status: 'ok', message: 'no lock held' };
  },
};

/** Break lock `name` for an operator; returns a line saying what was done. */
export async function breakNamedLock(name: LockName, home: HomeLayout, cfg: LoadedConfig | undefined): Promise<string> {
  const removed = await breakLock(lockPathOf(name, home, cfg));
  return removed ? `broke the ${name} lock ${removed.path} (${describeLock(removed)})` : `no ${name} lock held`;
}
