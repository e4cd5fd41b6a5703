/**
 * Temporary names, and the cleanup of those a killed process left behind. Two shapes, both
 * recording the pid of the process that made them: `.<name>.tmp-<pid>-<hex>` beside the file
 * an atomic write replaces, and `.hoziron-tmp-<pid>-<hex>.<suffix>` for the work files of a
 * backup (archive bodies, snapshots, staging). Neither is ever read as data, archived or
 * listed; `removeLeftovers` deletes those whose process is gone.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './durable.js';
import { isProcessAlive } from './process.js';

/** Temporary sibling name for `target`; recognisable by `isTempName`. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/** Prefix of every temporary file the backup code makes; `removeLeftovers` knows it. */
const TEMP_PREFIX = '.hoziron-tmp-';
const TEMP_RE = /^\.hoziron-tmp-(\d+)-[0-9a-f]{8}\./;

/** A temporary path in `dir` that names this process, e.g. for a database snapshot. */
export function tempPathIn(dir: string, suffix: string): string {
  return join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}.${suffix}`);
}

/** The pid a temporary name of ours records, or undefined for any other name. */
export function tempOwner(name: string): number | undefined {
  const m = TEMP_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Remove temporary files of ours in `dir` whose process is gone. Returns their names. */
export async function removeLeftovers(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempOwner(name);
    if (pid === undefined || isProcessAlive(pid)) continue;
    await fs.rm(join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  if (removed.length > 0) await fsyncDir(dir);
  return removed;
}
