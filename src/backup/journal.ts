/**
 * The restore journal and the swap it protects. A restore works in `.restore/<id>/` (inside
 * the home, so every move is a rename on one filesystem): `stage/` holds the verified new
 * state, `old/` receives the current items. `.restore/journal.json` lists the items with
 * whether each existed before, and a phase.
 *
 * Invariants, which make a crash at any instant recoverable:
 * - The journal (phase `swapping`) is written durably BEFORE the first rename, and the staged
 *   tree is durable before that. An item is always moved aside (home → old) before its staged
 *   version is moved in (stage → home), so for every item the filesystem alone tells where it
 *   is: `old/x` present means the home's `x`, if any, is the staged one.
 * - Phase `committed` is written (atomically, fsynced) only after every rename and a fsync
 *   of every directory touched. It is the commit point.
 * Recovery (`recoverInterruptedRestore`, run before any command opens the home): a journal in
 * phase `swapping` is rolled back (staged items out, old items back); one in phase `committed`
 * is rolled forward (audit event appended if missing, `old/` deleted). Either way the home is
 * then entirely the old or entirely the new state. Work areas without a journal whose owner
 * is stale are leftovers of a staging or dry run and are deleted. A journal or work area whose
 * owner is alive belongs to a running restore and is left alone. Journal, work areas and
 * cleaners carry owner records (`fsutil/owner.ts`) whose heartbeat is their file's mtime,
 * kept fresh by the restoring process: a restore in another container on the same home is
 * alive while it beats, and a journal whose pid was reused by another process is stale.
 * Recovery trusts nothing it reads: `.restore/`, a journal's work area and its `stage/` and
 * `old/` must be real directories (never symbolic links, which would carry renames and
 * deletions out of the home), and a journal's id must be one this code generates and its
 * items exactly paths of its scope; anything else stops recovery with `integrity`.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { HozironError, errnoCode } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { fsyncDir } from '../fsutil/durable.js';
import { CLEANER_SUFFIX, type HomeLayout } from '../home/layout.js';
import { AuditLog } from '../stores/audit.js';
import { removeTree } from '../fsutil/durable.js';
import { exists } from '../fsutil/exists.js';
import { keepFresh } from '../fsutil/heartbeat.js';
import {
  identityOf,
  isThisProcess,
  judgeOwner,
  makeOwner,
  ownerOfChild,
  parseOwner,
  readOwnerFile,
  type OwnerRecord,
} from '../fsutil/owner.js';
import { swapItems } from './restore-plan.js';
import { holdsPendingSafety, markSafetyPending, safetyPlanProblem, type SafetyPlan } from './safety-point.js';

interface JournalItem {
  /** Home-relative path of a scope item (file or directory, no trailing slash). */
  path: string;
  /** Whether the home had it when the restore began. */
  existed: boolean;
}

export interface RestoreJournal {
  version: 1;
  /** Restore id; also the name of the work area under `.restore/`. */
  id: string;
  /** Informational; `owner` is what recovery judges (journals of older versions have only pid). */
  pid: number;
  /** The process that wrote the journal; set by `writeJournal`. */
  owner?: OwnerRecord;
  phase: 'swapping' | 'committed';
  scope: 'full' | 'agents';
  archive_id: string;
  archive_path: string;
  safety_backup_id: string | null;
  /**
   * The safety backup to make from `old/` once committed (safety-point.ts). Journals of older
   * versions have none: their safety backup (`safety_backup_id`) was made before the swap.
   */
  safety?: SafetyPlan;
  actor: string;
  items: JournalItem[];
}

const OWNER_FILE = 'owner';
/** A restore id as `randomUUID` makes it; the only names a journal may give its work area. */
const RESTORE_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function stageDirOf(home: HomeLayout, id: string): string {
  return join(home.restoreWorkDir(id), 'stage');
}
export function asideDirOf(home: HomeLayout, id: string): string {
  return join(home.restoreWorkDir(id), 'old');
}

/** Write the journal durably, owned by this process, and keep its heartbeat until it is removed. */
export async function writeJournal(home: HomeLayout, j: RestoreJournal): Promise<void> {
  const owner = makeOwner();
  await writeFileAtomic(home.restoreJournal, `${JSON.stringify({ ...j, pid: process.pid, owner }, null, 2)}\n`, { mode: 0o600 });
  // Only while the journal there is this one: another restore may write the same path later.
  const stillOurs = async () => (await readJournal(home).catch(() => undefined))?.owner?.token === owner.token;
  keepFresh(home.restoreJournal, { stillOurs });
}

async function readJournal(home: HomeLayout): Promise<RestoreJournal | undefined> {
  let text: string;
  try {
    text = await fs.readFile(home.restoreJournal, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  let j: RestoreJournal | undefined;
  try {
    j = JSON.parse(text) as RestoreJournal;
  } catch {
    /* fall through */
  }
  if (j?.version === 1 && typeof j.id === 'string' && Array.isArray(j.items)) {
    const problem = journalProblem(j);
    if (!problem) return j;
    throw new HozironError(
      'integrity',
      `the restore journal ${home.restoreJournal} is not one hoziron wrote: ${problem}`,
      'inspect .restore/ by hand; nothing was changed',
    );
  }
  // writeFileAtomic never leaves a torn journal, so this is damage from outside.
  throw new HozironError(
    'integrity',
    `the restore journal ${home.restoreJournal} is unreadable`,
    'inspect .restore/ by hand: old/ holds the previous state, stage/ the restored one',
  );
}

/**
 * Why a parsed journal cannot be trusted, or undefined: its id names the work area that
 * recovery renames from and deletes, and its items the home paths it renames, so both must be
 * exactly what this code writes (a UUID; the scope's items, each once).
 */
function journalProblem(j: RestoreJournal): string | undefined {
  if (!RESTORE_ID_RE.test(j.id)) return `id ${JSON.stringify(j.id)} is not a restore id`;
  if (j.phase !== 'swapping' && j.phase !== 'committed') return `phase ${JSON.stringify(j.phase)} is unknown`;
  if (j.scope !== 'full' && j.scope !== 'agents') return `scope ${JSON.stringify(j.scope)} is unknown`;
  if (!Number.isSafeInteger(j.pid) || j.pid <= 0) return `pid ${JSON.stringify(j.pid)} is not a process id`;
  if (j.safety !== undefined) {
    const problem = safetyPlanProblem(j.safety);
    if (problem) return problem;
    if (j.safety_backup_id !== j.safety.id) return 'its safety backup ids disagree';
  }
  const known = new Set(swapItems(j.scope));
  const seen = new Set<string>();
  for (const it of j.items as unknown[]) {
    const item = it as Partial<JournalItem> | null;
    if (typeof item?.path !== 'string' || !known.has(item.path) || seen.has(item.path) || typeof item.existed !== 'boolean') {
      return `item ${JSON.stringify(it)} is not an item of a ${j.scope} restore`;
    }
    seen.add(item.path);
  }
  return undefined;
}

/** Refuse to recover through `path` unless it is a real directory (or absent, when allowed). */
async function requireRealDir(path: string, mayBeAbsent: boolean): Promise<boolean> {
  let st;
  try {
    st = await fs.lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && mayBeAbsent) return false;
    throw err;
  }
  if (st.isDirectory()) return true;
  throw new HozironError(
    'integrity',
    `${path} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; restore recovery never follows it out of the home`,
    'inspect it and remove it by hand; nothing was changed',
  );
}

/** The parent directories that renames of `items` touch, below `roots`. */
function parentsOf(items: JournalItem[], roots: string[]): string[] {
  const dirs = new Set<string>();
  for (const root of roots) for (const it of items) dirs.add(dirname(join(root, it.path)));
  return [...dirs];
}

async function fsyncAll(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map(async (d) => ((await exists(d)) ? fsyncDir(d) : undefined)));
}

/**
 * Move the current items aside and the staged ones in, then commit. The journal (phase
 * `swapping`) must already be durable, and `old/` must hold every parent directory.
 */
export async function swapIn(home: HomeLayout, j: RestoreJournal, onStep?: (step: number) => void): Promise<void> {
  const stage = stageDirOf(home, j.id);
  const old = asideDirOf(home, j.id);
  let step = 0;
  for (const it of j.items) {
    if (it.existed) await fs.rename(home.path(it.path), join(old, it.path));
    onStep?.(++step);
    if (await exists(join(stage, it.path))) await fs.rename(join(stage, it.path), home.path(it.path));
    onStep?.(++step);
  }
  // Every rename must be durable before the commit record says so.
  await fsyncAll(parentsOf(j.items, [home.root, stage, old]));
  await writeJournal(home, { ...j, phase: 'committed' });
}

/** Put the old items back (journal in phase `swapping`). */
async function rollBack(home: HomeLayout, j: RestoreJournal): Promise<void> {
  const stage = stageDirOf(home, j.id);
  const old = asideDirOf(home, j.id);
  for (const it of [...j.items].reverse()) {
    const current = home.path(it.path);
    const aside = join(old, it.path);
    // With `old/x` present (or x not existing before), the home's x is the staged one.
    const homeHasStaged = it.existed ? await exists(aside) : true;
    if (homeHasStaged && (await exists(current))) {
      await fs.mkdir(dirname(join(stage, it.path)), { recursive: true });
      if (await exists(join(stage, it.path))) await fs.rm(current, { recursive: true, force: true });
      else await fs.rename(current, join(stage, it.path));
    }
    if (it.existed && (await exists(aside))) await fs.rename(aside, current);
  }
  await fsyncAll(parentsOf(j.items, [home.root]));
}

/** Roll a swap back and then forget it (the journal goes only once the old state is durable). */
export async function abandonRestore(home: HomeLayout, j: RestoreJournal): Promise<void> {
  await rollBack(home, j);
  await fs.rm(home.restoreJournal, { force: true });
  await fsyncDir(home.restoreDir);
  await removeWorkArea(home, j.id);
}

/** Append the `backup.restore` event unless this restore's event is already there. */
async function recordRestore(home: HomeLayout, j: RestoreJournal): Promise<void> {
  if (!(await exists(home.auditDb))) return;
  const audit = AuditLog.open(home.auditDb);
  try {
    const done = audit.tail(20).some((e) => e.action === 'backup.restore' && e.detail.restore_id === j.id);
    if (!done) {
      audit.append(j.actor, 'backup.restore', j.archive_id, {
        restore_id: j.id,
        archive_id: j.archive_id,
        safety_backup_id: j.safety_backup_id,
        scope: j.scope,
      });
    }
  } finally {
    audit.close();
  }
}

/**
 * After the commit: audit, forget the journal, then delete the work area (the old state).
 * With `background`, a detached `rm -rf` deletes it after this process returns: the old
 * state is garbage once the journal is gone, and deleting tens of thousands of files can
 * take longer than the restore itself. Its pid is written as the work area's owner, so a
 * concurrent recovery leaves it alone; if it dies, the next command's recovery finishes it.
 * A journal with a `safety` plan instead hands the work area over to the safety backup
 * (safety-point.ts): the marker is made durable before the journal goes, and `old/` stays
 * until its archive is complete; only the emptied `stage/` is deleted. Resolves to whether
 * a safety backup is now pending.
 */
export async function finishCommitted(home: HomeLayout, j: RestoreJournal, background = false): Promise<boolean> {
  await recordRestore(home, j);
  if (j.safety) {
    await markSafetyPending(home, { ...j.safety, restore_id: j.id, scope: j.scope, actor: j.actor });
    await fs.rm(home.restoreJournal, { force: true });
    await fsyncDir(home.restoreDir).catch(() => undefined);
    await removeTree(stageDirOf(home, j.id));
    return true;
  }
  await fs.rm(home.restoreJournal, { force: true });
  await fsyncDir(home.restoreDir).catch(() => undefined);
  const work = home.restoreWorkDir(j.id);
  if (background && process.platform !== 'win32') {
    // The shell names itself in `<id>.cleaner`, beside (not inside) the tree it deletes, so a
    // concurrent recovery can tell the tree is being taken care of; `rmdir` drops an empty .restore/.
    // The child cannot beat, so its record is judged by its pid and start time here, by its age
    // elsewhere: a second deleter of the same garbage tree is harmless. If the child is done
    // before its record is written, the record names a dead pid and the next recovery drops it.
    const script = `rm -rf -- "$1"; rm -f -- "$1${CLEANER_SUFFIX}"; rmdir -- "$2" 2>/dev/null; exit 0`;
    const child = spawn('sh', ['-c', script, 'hoziron-cleanup', work, home.restoreDir], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    if (child.pid !== undefined) {
      await fs
        .writeFile(`${work}${CLEANER_SUFFIX}`, `${JSON.stringify(ownerOfChild(child.pid))}\n`, { mode: 0o600 })
        .catch(() => undefined);
      child.unref();
      return false;
    }
  }
  await removeWorkArea(home, j.id);
  return false;
}

export async function removeWorkArea(home: HomeLayout, id: string): Promise<void> {
  await removeTree(home.restoreWorkDir(id));
}

/** Remove `.restore/` when nothing is left in it. */
export async function tidyRestoreDir(home: HomeLayout): Promise<void> {
  await fs.rmdir(home.restoreDir).catch(() => undefined);
}

/** Record that this process owns work area `id` (so recovery leaves it alone while it beats). */
export async function claimWorkArea(home: HomeLayout, id: string): Promise<void> {
  await fs.mkdir(home.restoreDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(home.restoreWorkDir(id), { mode: 0o700 });
  const file = join(home.restoreWorkDir(id), OWNER_FILE);
  await fs.writeFile(file, `${JSON.stringify(makeOwner())}\n`, { mode: 0o600 });
  keepFresh(file);
}

/** Whether `file` names a live owner other than this process (a leftover of ours is not live). */
async function liveOwner(file: string): Promise<boolean> {
  const f = await readOwnerFile(file).catch(() => undefined);
  return f !== undefined && f.judgment.state === 'alive' && !isThisProcess(f.record);
}

/**
 * Finish or roll back a restore that was interrupted, and delete leftovers of dead stagings.
 * Registered as an App preflight, so it runs before any command touches the home.
 */
export async function recoverInterruptedRestore(home: HomeLayout): Promise<void> {
  if (!(await requireRealDir(home.restoreDir, true))) return;
  const j = await readJournal(home);
  if (j) {
    const owner = parseOwner(j.owner ?? j.pid);
    const heartbeatMs = (await fs.stat(home.restoreJournal)).mtimeMs;
    const judged = judgeOwner(identityOf(owner), heartbeatMs);
    if (judged.state === 'alive' && !isThisProcess(owner)) {
      throw new HozironError(
        'busy',
        `a restore is in progress (pid ${j.pid}${owner.host ? ` on host ${owner.host}` : ''}: ${judged.reason})`,
        'wait for it to finish, then try again',
      );
    }
  }
  if (j) {
    if (await requireRealDir(home.restoreWorkDir(j.id), true)) {
      await requireRealDir(stageDirOf(home, j.id), true);
      await requireRealDir(asideDirOf(home, j.id), true);
    }
    if (j.phase === 'committed') {
      await finishCommitted(home, j);
    } else {
      await abandonRestore(home, j);
    }
  }
  const names = await fs.readdir(home.restoreDir);
  for (const name of names) {
    if (name === 'journal.json' || name.endsWith(CLEANER_SUFFIX)) continue;
    const dir = join(home.restoreDir, name);
    // Anything but a directory (a symbolic link above all) is removed itself, never followed.
    const st = await fs.lstat(dir).catch(() => undefined); // a cleaner may have just removed it
    if (!st) continue;
    if (!st.isDirectory()) {
      await fs.rm(dir, { force: true });
      continue;
    }
    // Being deleted by a background cleaner, or owned by a running restore or dry run.
    if ((await liveOwner(`${dir}${CLEANER_SUFFIX}`)) || (await liveOwner(join(dir, OWNER_FILE)))) continue;
    // The state before a committed restore, still owed its safety backup (recoverPendingSafety).
    if (await holdsPendingSafety(dir)) continue;
    await removeTree(dir);
  }
  for (const name of names) {
    if (!name.endsWith(CLEANER_SUFFIX)) continue;
    const file = join(home.restoreDir, name);
    if (!(await liveOwner(file))) await fs.rm(file, { force: true });
  }
  await tidyRestoreDir(home);
}

/** A work area younger than this without a readable owner is being claimed right now. */
const CLAIM_GRACE_MS = 10_000;

/**
 * The restore running on this home now, if any: a journal, or a work area (staging, dry run)
 * whose owner is a live process other than this one (or that is being claimed: no owner pid
 * yet, made seconds ago). A work area being deleted by a cleaner is not a running restore (its
 * swap is committed). This is the one "restore in progress" check (`start` refuses while it
 * answers). Owners are judged by their records (fsutil/owner.ts): a restore in another PID
 * namespace or container counts while its heartbeat is fresh.
 */
export async function findRunningRestore(home: HomeLayout): Promise<{ pid: number | undefined } | undefined> {
  if (!(await exists(home.restoreDir))) return undefined;
  const j = await readJournal(home).catch(() => undefined);
  if (j) {
    const owner = parseOwner(j.owner ?? j.pid);
    const heartbeatMs = await fs.stat(home.restoreJournal).then(
      (st) => st.mtimeMs,
      () => 0,
    );
    if (judgeOwner(identityOf(owner), heartbeatMs).state === 'alive' && !isThisProcess(owner)) return { pid: owner.pid };
  }
  let names: string[];
  try {
    names = await fs.readdir(home.restoreDir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (name === 'journal.json' || name.endsWith(CLEANER_SUFFIX) || names.includes(`${name}${CLEANER_SUFFIX}`)) continue;
    const dir = join(home.restoreDir, name);
    // A committed restore's aside tree awaiting its safety backup is not a running restore.
    if (await holdsPendingSafety(dir)) continue;
    const owner = await readOwnerFile(join(dir, OWNER_FILE)).catch(() => undefined);
    if (owner) {
      if (owner.judgment.state === 'alive' && !isThisProcess(owner.record)) return { pid: owner.record.pid };
      continue;
    }
    const made = await fs.stat(dir).then(
      (st) => st.mtimeMs,
      () => 0,
    );
    if (Date.now() - made < CLAIM_GRACE_MS) return { pid: undefined };
  }
  return undefined;
}
