/**
 * The previous archive a create may reuse gzip members from (member-reuse.ts): the newest
 * plain archive in the given directories (where the new one goes, and the storage directory:
 * a safety backup is most like the newest regular backup) whose summary sidecar is current
 * (its recorded size and mtime match the file) and holds a member index. Nothing found is
 * normal (a first backup, an encrypted storage): everything is then compressed. Reads only.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { MemberIndex } from '../archive/member-reuse.js';
import { PLAIN_SUFFIX } from './archive-keys.js';
import { isCurrent, readAnySummary } from './sidecars.js';

/** Archives looked at, newest first, before giving up. */
const CANDIDATES = 3;

export async function findPreviousArchive(dirs: string[]): Promise<{ path: string; members: MemberIndex } | undefined> {
  const archives: { path: string; size: number; mtimeMs: number }[] = [];
  for (const dir of new Set(dirs)) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith(PLAIN_SUFFIX)) continue;
      const path = join(dir, name);
      const st = await fs.stat(path).catch(() => undefined);
      if (st?.isFile()) archives.push({ path, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
  archives.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const a of archives.slice(0, CANDIDATES)) {
    const summary = await readAnySummary(a.path);
    if (summary?.members && isCurrent(summary, a)) return { path: a.path, members: summary.members };
  }
  return undefined;
}
