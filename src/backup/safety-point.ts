/**
 * The safety point of a confirmed restore, made after the swap rather than before it. The
 * swap already moves the home's current items aside, intact, into `.restore/<id>/old/`; a
 * safety backup is then that tree turned into a pre-restore archive (`createBackup` with
 * `from`), under an id and time the restore chose before its journal (the journal's `safety`).
 * So a restore's wall time no longer includes a full recompression of the current home.
 *
 * Invariants (what is on disk at every instant):
 * - Until the journal is committed, nothing here exists: a rolled-back restore needs no
 *   safety point (the home is the old state).
 * - When a committed journal is finished (journal.ts `finishCommitted`), the marker
 *   `.restore/<id>/safety.json` is written durably BEFORE the journal is removed, and the
 *   work area (with `old/`) is then kept: a work area holding a marker is never deleted by
 *   recovery nor counted as a running restore, until its archive is complete.
 * - The archive is written as every archive is (temporary file, fsync, sidecars, link,
 *   directory fsync) under the backup lock; only after it is in place is the marker removed
 *   (then the directory fsynced), and only then the aside tree deleted. A finisher killed at
 *   any line leaves the marker and the aside tree, and the next one finds the archive by its
 *   id if it was already linked, so there is never a second copy and never a lost state.
 * Who finishes: the restoring process hands the work area to a detached process
 * (`safety-backup-worker.ts`), naming it as the work area's owner; if that process dies,
 * every command's recovery (`recoverPendingSafety`) finishes it once the owner is stale.
 * Other backup operations wait while a finisher holds the backup lock (lock.ts), and
 * `backup restore <safety id>` waits for a pending one, so no restore or backup can lose it.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { BackupRecord } from '../api/types.js';
import { parseRecipient } from '../crypto/keys.js';
import { HozironError, errnoCode } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { fsyncDir, removeTree } from '../fsutil/durable.js';
import { keepFresh } from '../fsutil/heartbeat.js';
import { isThisProcess, makeOwner, ownerOfChild, readOwnerFile } from '../fsutil/owner.js';
import { loadConfig, type LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { ENCRYPTED_SUFFIX, PLAIN_SUFFIX } from './archive-keys.js';
import { listCatalog, preRestoreDir } from './catalog.js';
import { createBackup } from './create.js';
import { SAFETY_OPERATION, withBackupLock } from './lock.js';

/** What the journal records of the safety backup to make, and the marker repeats. */
export interface SafetyPlan {
  /** The safety backup's id (its manifest id). */
  id: string;
  /** When the state it saves was moved aside: its manifest's `created_at`. */
  created_at: string;
  /** The recipients configured when the restore began (public keys): its archive is encrypted to them. */
  recipients: string[];
}

/** `.restore/<id>/safety.json`: a safety backup still to be made from `old/`. */
interface PendingSafety extends SafetyPlan {
  version: 1;
  restore_id: string;
  scope: 'full' | 'agents';
  actor: string;
}

const MARKER = 'safety.json';
const OWNER_FILE = 'owner';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LOCK_RETRY_MS = 200;

/**
 * Fault injection for the crash test only: the finisher kills itself (SIGKILL) at this step
 * (`claimed`: the lock and the work area are its own; `linked`: the archive is in place, the
 * marker not yet removed; `unmarked`: the marker is removed, the aside tree not yet). Unset
 * in normal use.
 */
const KILL_AT = process.env.HOZIRON_TEST_KILL_IN_SAFETY;
function crashPoint(step: 'claimed' | 'linked' | 'unmarked'): void {
  if (KILL_AT === step) process.kill(process.pid, 'SIGKILL');
}

/** Why a safety plan read from a journal or marker cannot be trusted, or undefined. */
export function safetyPlanProblem(s: Partial<SafetyPlan> | null | undefined): string | undefined {
  if (typeof s?.id !== 'string' || !UUID_RE.test(s.id)) return `safety id ${JSON.stringify(s?.id)} is not a backup id`;
  if (typeof s.created_at !== 'string' || Number.isNaN(Date.parse(s.created_at))) return 'the safety backup has no valid time';
  if (!Array.isArray(s.recipients) || s.recipients.some((r) => typeof r !== 'string' || !parseRecipient(r))) {
    return 'the safety backup recipients are not age recipients';
  }
  return undefined;
}

function markerOf(home: HomeLayout, restoreId: string): string {
  return join(home.restoreWorkDir(restoreId), MARKER);
}

/** Whether work area `dir` (a path under `.restore/`) holds a pending safety backup. */
export async function holdsPendingSafety(dir: string): Promise<boolean> {
  return fs.lstat(join(dir, MARKER)).then(
    (st) => st.isFile(),
    () => false,
  );
}

/** Record durably that the committed restore `restoreId` still owes its safety backup. */
export async function markSafetyPending(home: HomeLayout, p: Omit<PendingSafety, 'version'>): Promise<void> {
  await writeFileAtomic(markerOf(home, p.restore_id), `${JSON.stringify({ version: 1, ...p }, null, 2)}\n`, { mode: 0o600 });
}

async function readPending(home: HomeLayout, restoreId: string): Promise<PendingSafety | undefined> {
  let text: string;
  try {
    text = await fs.readFile(markerOf(home, restoreId), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  let p: PendingSafety | undefined;
  try {
    p = JSON.parse(text) as PendingSafety;
  } catch {
    /* refused below */
  }
  const problem =
    p?.version !== 1
      ? 'not a marker'
      : p.restore_id !== restoreId
        ? 'it names another restore'
        : p.scope !== 'full' && p.scope !== 'agents'
          ? 'unknown scope'
          : safetyPlanProblem(p);
  if (problem || !p) {
    throw new HozironError(
      'integrity',
      `${markerOf(home, restoreId)} is not one hoziron wrote (${problem ?? 'unreadable'})`,
      'inspect .restore/ by hand: old/ holds the state before the restore; nothing was changed',
    );
  }
  return p;
}

/** The record a pending safety backup will have (its path as it will most likely be named). */
export function pendingRecord(cfg: LoadedConfig, p: SafetyPlan & { scope: 'full' | 'agents' }): BackupRecord {
  const d = new Date(p.created_at).toISOString();
  const stamp = `${d.slice(0, 10).replace(/-/g, '')}_${d.slice(11, 19).replace(/:/g, '')}`;
  const file = `hoziron-backup-${stamp}${p.recipients.length > 0 || cfg.encryption.recipients.length > 0 ? ENCRYPTED_SUFFIX : PLAIN_SUFFIX}`;
  return {
    id: p.id,
    path: join(preRestoreDir(cfg), file),
    scope: 'pre-restore',
    created_at: d,
    checksum: '',
    size_bytes: 0,
    file: `pre-restore/${file}`,
    manifest_scope: p.scope,
    pending: true,
  };
}

/** Work areas under `.restore/` that hold a pending safety backup. */
async function pendingAreas(home: HomeLayout): Promise<string[]> {
  let names: string[];
  try {
    // `.restore` itself a symbolic link (out of the home): nothing in it is ours to finish.
    if (!(await fs.lstat(home.restoreDir)).isDirectory()) return [];
    names = await fs.readdir(home.restoreDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (!UUID_RE.test(name)) continue;
    const st = await fs.lstat(home.restoreWorkDir(name)).catch(() => undefined);
    if (st?.isDirectory() && (await holdsPendingSafety(home.restoreWorkDir(name)))) out.push(name);
  }
  return out;
}

/** The readable markers of the pending safety backups. */
async function pendingMarkers(home: HomeLayout): Promise<PendingSafety[]> {
  const out: PendingSafety[] = [];
  for (const rid of await pendingAreas(home)) {
    const p = await readPending(home, rid).catch(() => undefined);
    if (p) out.push(p);
  }
  return out;
}

/** Pending safety backups, for `backup list` (each with `pending: true`). */
export async function listPendingSafety(home: HomeLayout, cfg: LoadedConfig): Promise<BackupRecord[]> {
  return (await pendingMarkers(home)).map((p) => pendingRecord(cfg, p));
}

async function ownerIsLive(home: HomeLayout, restoreId: string): Promise<boolean> {
  const f = await readOwnerFile(join(home.restoreWorkDir(restoreId), OWNER_FILE)).catch(() => undefined);
  return f !== undefined && f.judgment.state === 'alive' && !isThisProcess(f.record);
}

/** Hold the backup lock as the safety finisher; with `wait`, until whoever holds it lets go. */
async function withFinisherLock<T>(cfg: LoadedConfig, wait: boolean, fn: () => Promise<T>): Promise<T | undefined> {
  for (;;) {
    try {
      return await withBackupLock(cfg.storageDir, SAFETY_OPERATION, fn);
    } catch (err) {
      if (!(err instanceof HozironError && err.code === 'conflict' && err.message.startsWith('another backup operation'))) throw err;
      if (!wait) return undefined;
      await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
    }
  }
}

/**
 * Make the pending safety backup of work area `restoreId` (see the module header), then
 * delete the work area. Resolves to its record, or undefined when there was nothing (left)
 * to do or, without `wait`, the backup lock was busy.
 */
export async function finishSafetyBackup(
  home: HomeLayout,
  cfg: LoadedConfig,
  restoreId: string,
  opts: { wait: boolean },
): Promise<BackupRecord | undefined> {
  return withFinisherLock(cfg, opts.wait, async () => {
    const p = await readPending(home, restoreId);
    if (!p) return undefined; // finished meanwhile by another process
    // Never archive through a symbolic link: only the real tree the swap moved aside.
    const old = join(home.restoreWorkDir(restoreId), 'old');
    for (const dir of [home.restoreDir, home.restoreWorkDir(restoreId), old]) {
      const st = await fs.lstat(dir).catch(() => undefined);
      if (!st?.isDirectory()) {
        throw new HozironError(
          'integrity',
          `${dir} is not a directory; the safety backup is not made through it`,
          'inspect .restore/ by hand',
        );
      }
    }
    // Ours from here: recovery elsewhere leaves a work area whose owner beats.
    const ownerFile = join(home.restoreWorkDir(restoreId), OWNER_FILE);
    await fs.writeFile(ownerFile, `${JSON.stringify(makeOwner())}\n`, { mode: 0o600 });
    const stopBeating = keepFresh(ownerFile);
    try {
      crashPoint('claimed');
      // A finisher killed after linking the archive left it in place: never make a second.
      const existing = (await listCatalog(cfg)).find((e) => e.record.id === p.id);
      const record =
        existing?.record ??
        (await createBackup(home, cfg, {
          scope: p.scope,
          kind: 'pre-restore',
          actor: p.actor,
          lockHeld: true,
          from: { root: old, id: p.id, created: new Date(p.created_at), recipients: p.recipients.map((r) => parseRecipient(r)!) },
        }));
      crashPoint('linked');
      // Named as being deleted before the marker goes, so that no `start` or restore sees a
      // work area without its marker and a live owner as a restore in progress.
      const cleaner = home.restoreCleanerFile(restoreId);
      await fs.writeFile(cleaner, `${JSON.stringify(makeOwner())}\n`, { mode: 0o600 });
      await fs.rm(markerOf(home, restoreId));
      await fsyncDir(home.restoreWorkDir(restoreId));
      crashPoint('unmarked');
      stopBeating();
      await removeTree(home.restoreWorkDir(restoreId));
      await fs.rm(cleaner, { force: true });
      await fs.rmdir(home.restoreDir).catch(() => undefined);
      return record;
    } finally {
      stopBeating();
    }
  });
}

const FINISHER = new URL('./safety-backup-worker.js', import.meta.url);

/**
 * Hand the pending safety backup of `restoreId` to a detached process, named as the work
 * area's owner so that no recovery takes it over while it runs. If no process can be
 * started, the safety backup is made here and now.
 */
export async function startSafetyFinisher(home: HomeLayout, cfg: LoadedConfig, restoreId: string): Promise<void> {
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, ['--max-semi-space-size=4', fileURLToPath(FINISHER), home.root, restoreId], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => undefined);
    pid = child.pid;
    if (pid !== undefined) {
      // If the child is already done, the work area is gone and so is the need for a record.
      await fs
        .writeFile(join(home.restoreWorkDir(restoreId), OWNER_FILE), `${JSON.stringify(ownerOfChild(pid))}\n`, { mode: 0o600 })
        .catch(() => undefined);
      child.unref();
      return;
    }
  } catch {
    // fall through: finish it here
  }
  await finishSafetyBackup(home, cfg, restoreId, { wait: true });
}

/**
 * Finish the safety backups whose finisher died (every command runs this before it opens
 * the home, after `recoverInterruptedRestore`). One whose owner is alive is left to it; one
 * that cannot be finished now (the config does not load, the lock is busy, the storage is
 * full) stays pending, with its aside tree, for the next command.
 */
export async function recoverPendingSafety(home: HomeLayout): Promise<void> {
  const areas = await pendingAreas(home);
  if (areas.length === 0) return;
  let cfg: LoadedConfig;
  try {
    cfg = loadConfig(home);
  } catch {
    return;
  }
  for (const rid of areas) {
    if (await ownerIsLive(home, rid)) continue;
    await finishSafetyBackup(home, cfg, rid, { wait: false }).catch(() => undefined);
  }
}

/**
 * For `backup restore <id>` of a safety backup that is still being made: wait until it is
 * complete (finishing it here if its finisher died). Resolves to true when `idOrPrefix`
 * named a pending safety backup.
 */
export async function awaitPendingSafety(home: HomeLayout, cfg: LoadedConfig, idOrPrefix: string): Promise<boolean> {
  let waited = false;
  for (;;) {
    const match = (await pendingMarkers(home)).find((p) => p.id === idOrPrefix || (idOrPrefix.length >= 8 && p.id.startsWith(idOrPrefix)));
    if (!match) return waited;
    waited = true;
    if (!(await ownerIsLive(home, match.restore_id))) await finishSafetyBackup(home, cfg, match.restore_id, { wait: true });
    else await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
  }
}
