/**
 * The heartbeat of held owner records: every `HEARTBEAT_INTERVAL_MS` the mtime of each file
 * this process holds (a lock, a journal, a work area's owner file, a temporary file) is set
 * to now, so that a process that cannot see ours (another PID namespace or host) can tell a
 * live holder from a dead one by the file's age (`owner.ts`). One unref'd timer serves every
 * file and never keeps the process alive. A file that is gone is dropped; a holder that can
 * lose its file to someone else (a broken lock) passes a check that stops the beat then.
 */
import { promises as fs } from 'node:fs';
import { errnoCode } from '../errors.js';
import { HEARTBEAT_INTERVAL_MS } from './owner.js';

type StillOurs = () => Promise<boolean>;

interface Held {
  stillOurs: StillOurs | undefined;
  /** Whether the file has been seen: a name is often chosen before its file is made. */
  seen: boolean;
  since: number;
}

/** A name whose file never appeared is forgotten after this long. */
const UNSEEN_FORGET_MS = 6 * 3_600_000;

const held = new Map<string, Held>();
let timer: NodeJS.Timeout | undefined;
let beating = false;

async function beatOne(path: string, h: Held): Promise<void> {
  try {
    if (h.stillOurs && !(await h.stillOurs())) {
      held.delete(path);
      return;
    }
    const now = new Date();
    await fs.utimes(path, now, now);
    h.seen = true;
  } catch (err) {
    // Gone (renamed into place, removed): nothing left to keep fresh. Other errors: next beat.
    if (errnoCode(err) === 'ENOENT' && (h.seen || Date.now() - h.since > UNSEEN_FORGET_MS)) held.delete(path);
  }
}

async function beat(): Promise<void> {
  if (beating) return;
  beating = true;
  try {
    await Promise.all([...held].map(([path, h]) => beatOne(path, h)));
  } finally {
    beating = false;
    if (held.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  }
}

/**
 * Keep `path`'s mtime fresh until the returned function is called, the file disappears or
 * `stillOurs` answers false. With `made: false` the file may be made later (a temporary name
 * is chosen before its file); a fixed path that others may reuse must pass `stillOurs`.
 */
export function keepFresh(path: string, opts: { stillOurs?: StillOurs; made?: boolean } = {}): () => void {
  const entry: Held = { stillOurs: opts.stillOurs, seen: opts.made ?? true, since: Date.now() };
  held.set(path, entry);
  if (!timer) {
    timer = setInterval(() => void beat(), HEARTBEAT_INTERVAL_MS);
    timer.unref();
  }
  return () => {
    if (held.get(path) === entry) held.delete(path);
  };
}
