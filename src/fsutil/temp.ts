/**
 * Temporary names, and the cleanup of those a killed process left behind. Two shapes, both
 * carrying the stamp of the process that made them, `<pid>-<start time>-<origin>` (origin: a
 * hash of host, boot id and PID namespace, `owner.ts`): `.<name>.tmp-<stamp>-<hex>` beside
 * the file an atomic write replaces, and `.hoziron-tmp-<stamp>-<hex>.<suffix>` for the work
 * files of a backup (archive bodies, snapshots, staging). Neither is ever read as data,
 * archived or listed. The maker keeps each one's mtime fresh (`heartbeat.ts`), so
 * `removeLeftovers` deletes a file only when its owner is judged stale: its process is gone
 * from this host and namespace, or, when made elsewhere, its mtime is older than the limit.
 * A live writer in another container or PID namespace keeps its files.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.js';
import { fsyncDir } from './durable.js';
import { keepFresh } from './heartbeat.js';
import { judgeOwner, originTag, ownStartTag, type OwnerIdentity } from './owner.js';

/** This process's stamp in temporary names: `<pid>-<start time>-<origin>`. */
export function stamp(): string {
  return `${process.pid}-${ownStartTag()}-${originTag()}`;
}

/** Temporary sibling name for `target`; recognisable by `isTempName`, kept fresh. */
export function tempNameFor(target: string): string {
  const path = join(dirname(target), `.${basename(target)}.tmp-${stamp()}-${randomBytes(4).toString('hex')}`);
  keepFresh(path, { made: false });
  return path;
}

// Older versions wrote `<pid>-<hex>` only: such names are judged by their mtime.
const STAMP = String.raw`(\d+)(?:-(\d+)-([0-9a-f]{12}))?-[0-9a-f]{8}`;
const ATOMIC_RE = new RegExp(String.raw`^\..+\.tmp-${STAMP}$`);
const TEMP_PREFIX = '.hoziron-tmp-';
const TEMP_RE = new RegExp(String.raw`^\.hoziron-tmp-${STAMP}\.`);

export function isTempName(name: string): boolean {
  return ATOMIC_RE.test(name);
}

/** A temporary path in `dir` that names this process, e.g. for a database snapshot. */
export function tempPathIn(dir: string, suffix: string): string {
  const path = join(dir, `${TEMP_PREFIX}${stamp()}-${randomBytes(4).toString('hex')}.${suffix}`);
  keepFresh(path, { made: false });
  return path;
}

function identityIn(m: RegExpExecArray): OwnerIdentity {
  return { pid: Number(m[1]), startTime: m[2] === '0' ? undefined : m[2], origin: m[3] };
}

/** The owner a work-file name (`tempPathIn`) records, or undefined for any other name. */
export function tempOwner(name: string): OwnerIdentity | undefined {
  const m = TEMP_RE.exec(name);
  return m ? identityIn(m) : undefined;
}

/** Whether a temporary name of either shape was made by this process. */
export function isOwnTempName(name: string): boolean {
  const m = TEMP_RE.exec(name) ?? ATOMIC_RE.exec(name);
  return m !== null && `${m[1]}-${m[2]}-${m[3]}` === stamp();
}

/** Remove work files (`tempPathIn`) in `dir` whose owner is judged stale. Returns their names. */
export async function removeLeftovers(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = tempOwner(name);
    if (owner === undefined) continue;
    const path = join(dir, name);
    let mtimeMs: number;
    try {
      mtimeMs = (await fs.lstat(path)).mtimeMs;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    if (judgeOwner(owner, mtimeMs).state !== 'stale') continue;
    await fs.rm(path, { force: true, recursive: true });
    removed.push(name);
  }
  if (removed.length > 0) await fsyncDir(dir);
  return removed;
}
