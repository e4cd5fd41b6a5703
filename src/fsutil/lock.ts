/**
 * One exclusive lock file, used for the backup lock and the daemon lock. The file holds an
 * owner record (`owner.ts`) and the operation, and its mtime is the holder's heartbeat.
 *
 * Invariants: the lock exists only with its whole content (it is written under a temporary
 * name and hard-linked into place; link() fails if a lock is there). A lock is taken over
 * only when its owner is judged stale: it is renamed aside (atomic: one taker wins) and
 * checked to be the very lock judged; anything else found there is put back and judged
 * again. Release removes the lock only while it still holds our token.
 * Crash safety: a holder killed at any line leaves at most its lock (judged stale once its
 * process is gone, or its heartbeat is old) and temporary files that `removeLeftovers` takes;
 * a crash between rename-aside and removal leaves only a temporary file.
 */
import { promises as fs, readFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { HozironError, errnoCode } from '../errors.js';
import { keepFresh } from './heartbeat.js';
import {
  STALE_AFTER_MS,
  describeOwner,
  makeOwner,
  readOwnerFile,
  readOwnerFileSync,
  type Judgment,
  type OwnerFile,
  type OwnerRecord,
} from './owner.js';
import { tempPathIn } from './temp.js';

interface LockRecord extends OwnerRecord {
  operation: string;
}

/** A lock as found on disk: its record (partial when damaged or old), heartbeat and judgment. */
export interface LockState {
  path: string;
  record: Partial<LockRecord>;
  heartbeatMs: number;
  judgment: Judgment;
}

export interface HeldLock {
  readonly path: string;
  readonly record: LockRecord;
  release(): Promise<void>;
  /** For an exit path that cannot wait. */
  releaseSync(): void;
}

function lockState(path: string, f: OwnerFile | undefined): LockState | undefined {
  if (!f) return undefined;
  const op = (f.json as { operation?: unknown } | undefined)?.operation;
  return {
    path,
    record: { ...f.record, operation: typeof op === 'string' ? op : undefined },
    heartbeatMs: f.heartbeatMs,
    judgment: f.judgment,
  };
}

/** Read and judge the lock at `path`; undefined when there is none. */
export async function inspectLock(path: string): Promise<LockState | undefined> {
  return lockState(path, await readOwnerFile(path));
}

/** `inspectLock` for callers that must not wait (status). */
export function inspectLockSync(path: string): LockState | undefined {
  return lockState(path, readOwnerFileSync(path));
}

function tokenIn(text: string): string | undefined {
  try {
    const t = (JSON.parse(text) as { token?: unknown }).token;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

async function tokenAt(path: string): Promise<string | undefined> {
  try {
    return tokenIn(await fs.readFile(path, 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Remove the lock at `path` if it is still the one judged (`seen`): rename it aside, compare
 * tokens, put back anything else. True when it was removed (or had gone already).
 */
async function removeIfSame(seen: LockState): Promise<boolean> {
  const aside = tempPathIn(dirname(seen.path), 'stale-lock');
  try {
    await fs.rename(seen.path, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return true;
    throw err;
  }
  try {
    const moved = await inspectLock(aside);
    if (moved && moved.record.token !== seen.record.token) {
      // Another lock took the judged one's place meanwhile: it is not ours to remove.
      await fs.link(aside, seen.path).catch(() => undefined);
      return false;
    }
    return true;
  } finally {
    await fs.rm(aside, { force: true });
  }
}

/**
 * Take the lock at `path` (its directory must exist) for `operation`, taking over a stale
 * one; a lock whose owner is alive → the error `held` makes of it. The lock's heartbeat runs
 * until release.
 */
export async function acquireLock(path: string, operation: string, held: (s: LockState) => HozironError): Promise<HeldLock> {
  const mine: LockRecord = { ...makeOwner(), operation };
  const tmp = tempPathIn(dirname(path), 'lock');
  await fs.writeFile(tmp, `${JSON.stringify(mine)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await fs.link(tmp, path);
        return holding(path, mine);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const found = await inspectLock(path);
      if (found === undefined) continue; // released meanwhile
      if (found.judgment.state === 'alive') throw held(found);
      if (!(await removeIfSame(found))) await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
    throw new HozironError('conflict', `could not take the lock ${path}: it keeps changing`, 'try again');
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

function holding(path: string, mine: LockRecord): HeldLock {
  const stopBeat = keepFresh(path, { stillOurs: async () => (await tokenAt(path)) === mine.token });
  return {
    path,
    record: mine,
    async release() {
      stopBeat();
      if ((await tokenAt(path).catch(() => undefined)) === mine.token) await fs.rm(path, { force: true });
    },
    releaseSync() {
      stopBeat();
      try {
        if (tokenIn(readFileSync(path, 'utf8')) === mine.token) unlinkSync(path);
      } catch {
        /* gone already */
      }
    },
  };
}

/** Whether an operator may break this lock: its owner is stale, or alive but silent too long. */
export function isBreakable(s: LockState): boolean {
  return s.judgment.state === 'stale' || (s.judgment.heartbeatAgeMs ?? 0) > STALE_AFTER_MS;
}

/**
 * Remove the lock at `path` for an operator. Refuses (`conflict`) while its owner is alive
 * and its heartbeat fresh. Returns the lock removed, or undefined when there was none.
 */
export async function breakLock(path: string): Promise<LockState | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await inspectLock(path);
    if (!found) return undefined;
    if (!isBreakable(found)) {
      throw new HozironError(
        'conflict',
        `the lock ${path} is held by a live owner: ${describeLock(found)}`,
        'wait for it to finish, or stop that process first; a lock is breakable once its owner is gone or silent',
      );
    }
    if (await removeIfSame(found)) return found;
  }
  throw new HozironError('conflict', `could not break the lock ${path}: it keeps changing`, 'try again');
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

/** One line on a lock for doctor and messages: who, since when, heartbeat, the judgment. */
export function describeLock(s: LockState, now = Date.now()): string {
  const what = s.record.operation ?? 'unknown operation';
  return `${what}, ${describeOwner(s.record)}; last heartbeat ${ago(now - s.heartbeatMs)}; ${s.judgment.state}: ${s.judgment.reason}`;
}
