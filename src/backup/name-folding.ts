/**
 * Which names an archive may bring onto the file system a restore writes to. Linux keeps
 * `Notes.md` and `notes.md` (or the NFC and NFD spellings of `café`) apart, so an archive may
 * hold both; a case-insensitive or normalising file system (macOS, Windows shares, ext4
 * casefold directories) would make them one file. `probeNameFolding` asks the file system
 * itself, once, with a probe file in a directory the caller owns; `checkRestorableNames`
 * then refuses, before anything is extracted, only names that would really alias there.
 * The probe file is removed at once; if the process dies first, it is left in the caller's
 * (fresh, disposable) directory.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { aliasingPairs, describeAliasPairs, type NameFolding } from '../archive/entry-paths.js';
import type { Manifest } from '../archive/manifest.js';
import { HozironError, errnoCode } from '../errors.js';

const PROBE = '.hoziron-name-probe-a\u00e9'; // lower-case ASCII, then é in NFC
const PROBE_OTHER_CASE = '.hoziron-name-probe-A\u00e9';
const PROBE_NFD = '.hoziron-name-probe-ae\u0301';

async function present(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EILSEQ') return false;
    throw err;
  }
}

/** How the file system holding `dir` (a directory the caller owns) folds names. */
export async function probeNameFolding(dir: string): Promise<NameFolding> {
  const probe = join(dir, PROBE);
  const handle = await fs.open(probe, 'wx', 0o600);
  await handle.close();
  try {
    return { foldsCase: await present(join(dir, PROBE_OTHER_CASE)), normalises: await present(join(dir, PROBE_NFD)) };
  } finally {
    await fs.rm(probe, { force: true });
  }
}

/** Most pairs named when a restore is refused. */
const MAX_PAIRS = 5;

/** Refuse a manifest with two names that `folding` would make one file (see the module header). */
export function checkRestorableNames(m: Manifest, folding: NameFolding, source: string, dest: string): void {
  // Walked lazily from the compact lists (manifest-list.ts): no array of every path.
  const paths = function* (): Generator<string> {
    for (let i = 0; i < m.dirs.length; i++) yield m.dirs.pathAt(i);
    for (let i = 0; i < m.files.length; i++) yield m.files.pathAt(i);
  };
  const { pairs, more } = aliasingPairs(paths(), folding, MAX_PAIRS);
  if (pairs.length === 0) return;
  const how = [folding.foldsCase ? 'ignores case' : '', folding.normalises ? 'normalises Unicode' : ''].filter(Boolean).join(' and ');
  const named = describeAliasPairs(pairs);
  throw new HozironError(
    'conflict',
    `${source}: cannot restore here: the file system of ${dest} ${how}, so ${named}${more > 0 ? ` (and ${more} more)` : ''} would become one file`,
    'restore onto a file system that keeps these names apart (the kind the backup was made on)',
  );
}
