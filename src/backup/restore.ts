/**
 * `restoreBackup` (docs/restore.md). Preflight from the manifest alone (format, version, scope, free
 * space, daemon) in seconds; then, under the backup lock, extract and verify into
 * `.restore/<id>/stage/` (every entry, the archive checksum unless --no-verify, integrity of
 * each database, the audit chain), migrate staged databases forward, make the staged tree
 * durable, take the safety backup into `<storage>/pre-restore/`, and swap under the journal
 * (journal.ts). A dry run does the same verification in a work area it deletes, and changes
 * nothing else.
 *
 * Crash safety: until the journal is written the home is untouched (a dead staging area is
 * deleted by the next command). From the journal to its `committed` record, the next command
 * rolls the swap back: the home is entirely the old state. From the commit record on, it is
 * rolled forward: entirely the new state, with the audit event appended once. A failure (not
 * a crash) during the swap rolls back at once. The backup lock is held throughout, and the
 * daemon must be stopped (or be the one restoring), so no one else writes the items being
 * swapped. The daemon check is made again after the work area is claimed (a daemon checks
 * for a work area after taking its lock: daemon/start-guard.ts), so one of the two backs off.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RestoreArchiveInfo, RestoreChanges, RestorePlan, RestoreResult } from '../api/restore.js';
import { readManifestEntry } from '../archive/reader.js';
import { isAgeName } from '../crypto/age.js';
import { unpackedSize, type Manifest } from '../archive/manifest.js';
import { HozironError, withIoContext } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import { DATABASES, HOME_FILES, type HomeLayout } from '../home/layout.js';
import { readDaemonStatus } from '../home/run.js';
import { loadIdentities } from './archive-keys.js';
import { findBackup, namesArchiveFile, resolveArchiveFile } from './catalog.js';
import type { HomeWalkJob } from './home-walk-worker.js';
import { runWorker } from './worker-runner.js';
import { fsyncFile } from '../fsutil/durable.js';
import {
  abandonRestore,
  asideDirOf,
  claimWorkArea,
  finishCommitted,
  removeWorkArea,
  stageDirOf,
  swapIn,
  tidyRestoreDir,
  writeJournal,
  type RestoreJournal,
} from './journal.js';
import { withBackupLock } from './lock.js';
import { planChanges, sinceBackup, swapItems } from './restore-plan.js';
import { applyRevocations, behaviourChanges } from './restore-review.js';
import { expectedChecksum, type ChecksumSource, type ExpectedChecksum } from './sidecars.js';
import { checkDatabaseSchema, checkManifestRestorable, stagedConfigCheck, type StagedConfig } from './restorable.js';
import { stageArchive, type StageOptions, type StageTimings } from './stage.js';
import { ensureStorage } from './storage.js';
import { awaitPendingSafety, pendingRecord, startSafetyFinisher, type SafetyPlan } from './safety-point.js';
import { exists } from '../fsutil/exists.js';

type RestorePhase = 'verify' | 'safety-backup' | 'swap';

export interface RestoreOptions {
  /** Backup id, or a path to an archive file. */
  source: string;
  confirm: boolean;
  /** false (--no-verify) skips only the whole-archive checksum. */
  verify: boolean;
  /** `sha256:<hex>` the operator vouches for (e.g. published beside a download); else the `.sha256` sidecar. */
  checksum?: string;
  actor: string;
  /**
   * false when the daemon itself restores (it has closed its stores). Default true: a restore
   * under a running daemon would lose every write it acknowledges after the swap, so there is
   * no way to restore past it (a CLI on such a home goes through the daemon instead).
   */
  daemonCheck?: boolean;
  onProgress?: (phase: RestorePhase, done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

/**
 * Fault injection for the crash test only: the process kills itself (SIGKILL) at this swap
 * step (0 = journal written, 1..2n = each rename, 2n+1 = committed). Unset in normal use.
 */
const KILL_AT_SWAP_STEP = process.env.HOZIRON_TEST_KILL_AT_SWAP_STEP ? Number(process.env.HOZIRON_TEST_KILL_AT_SWAP_STEP) : undefined;
/**
 * Fault injection for one test only: the step after the commit (audit event, journal
 * removal, cleanup) fails as a full disk would make it fail. Unset in normal use.
 */
const FAIL_AFTER_COMMIT = process.env.HOZIRON_TEST_FAIL_AFTER_COMMIT === '1';

/** Room kept free beyond the unpacked size (SQLite, journal, sidecars). */
const SPACE_MARGIN = 64 * 1024 * 1024;

async function resolveArchive(cfg: LoadedConfig, source: string): Promise<string> {
  if (namesArchiveFile(source)) return resolveArchiveFile(cfg, source);
  return (await findBackup(cfg, source)).path;
}

async function checkFreeSpace(home: HomeLayout, m: Manifest): Promise<void> {
  const need = unpackedSize(m) + SPACE_MARGIN;
  const st = await fs.statfs(home.root);
  const free = Number(st.bavail) * Number(st.bsize);
  if (free < need) {
    throw new HozironError(
      'no_space',
      `restoring needs ${need} bytes free in ${home.root}, only ${free} are available`,
      'free some space and try again',
    );
  }
}

function archiveInfo(path: string, m: Manifest): RestoreArchiveInfo {
  return {
    path,
    id: m.id,
    created_at: m.created_at,
    scope: m.scope,
    format: m.format,
    hoziron_version: m.hoziron_version,
    file_count: m.files.length,
    unpacked_bytes: unpackedSize(m),
  };
}

/**
 * Bring each staged database to this program's schema, with verify's own check
 * (restorable.ts `checkDatabaseSchema`): an archive from an older release migrates forward
 * into a schema this program uses; a newer one is refused. (The archived config.toml was
 * checked while staging, `stagedConfigCheck`.) A database already current is not opened for
 * writing, so its bytes stay exactly as archived. Returns the migrated files.
 */
function migrateStaged(stageDir: string, m: Manifest, archivePath: string): string[] {
  const migrated: string[] = [];
  for (const rel of DATABASES) {
    if (!m.files.get(rel)) continue;
    const path = join(stageDir, rel);
    if (checkDatabaseSchema(path, rel, archivePath)) migrated.push(path);
  }
  return migrated;
}

function daemonRefusal(home: HomeLayout, opts: RestoreOptions): string | undefined {
  if (opts.daemonCheck === false) return undefined;
  const d = readDaemonStatus(home);
  return d.running ? `the daemon is running (pid ${d.pid})` : undefined;
}

function daemonError(reason: string): HozironError {
  return new HozironError('daemon_running', `refusing to restore: ${reason}`, 'stop the daemon first', { remedy: 'stop_daemon' });
}

/** What the preflight learnt from the manifest alone, for the steps that follow. */
interface Preflight {
  archivePath: string;
  manifest: Manifest;
  info: RestoreArchiveInfo;
  /** Why a confirmed restore would be refused (the daemon runs), for a dry run's plan. */
  refusal: string | undefined;
  checksumSource: ChecksumSource;
  stageOpts: StageOptions;
  /** The archived config.toml once staged and validated (full scope). */
  staged: StagedConfig;
}

/**
 * The checksum a restore compares the archive with: the operator's, else the sidecar's. With
 * neither there is nothing to prove the file is the one that was made, so the restore is
 * refused; the operator can give the checksum or skip it (every entry is still checked).
 */
async function requireChecksum(archivePath: string, operator: string | undefined): Promise<ExpectedChecksum> {
  const expected = await expectedChecksum(archivePath, operator);
  if (expected.source === 'none') {
    throw new HozironError(
      'archive_invalid',
      `${archivePath}: no recorded checksum (no ${basename(archivePath)}.sha256 beside it) to verify the archive against`,
      'give the checksum recorded where the archive came from, or skip the whole-archive checksum (every entry is still checked)',
      { remedy: 'skip_checksum' },
    );
  }
  return expected;
}

/**
 * Refuse within seconds, from the manifest alone, what cannot be restored. An encrypted
 * archive is opened here first: a missing or wrong identity, or a damaged header, is refused
 * before anything is staged.
 */
async function preflight(
  home: HomeLayout,
  cfg: LoadedConfig,
  archivePath: string,
  opts: RestoreOptions,
  warnings: string[],
  warn: (w: string) => void,
): Promise<Preflight> {
  const identities = isAgeName(archivePath) ? await loadIdentities(cfg, warn) : undefined;
  const known = await readManifestEntry(archivePath, identities);
  const manifest = known.manifest;
  checkManifestRestorable(manifest, archivePath, warnings);
  await checkFreeSpace(home, manifest);
  const refusal = daemonRefusal(home, opts);
  if (refusal && opts.confirm) throw daemonError(refusal);
  const expected = opts.verify ? await requireChecksum(archivePath, opts.checksum) : { source: 'none' as const };
  const staged: StagedConfig = {};
  const stageOpts: StageOptions = {
    fileChecks: { [HOME_FILES.config]: stagedConfigCheck(archivePath, home, staged) },
    expectedSha256: expected.sha256,
    knownManifest: known,
    identities,
    onProgress: opts.onProgress ? (d: number, t: number) => opts.onProgress!('verify', d, t) : undefined,
    onManifest: (m: Manifest) => {
      if (m.id !== manifest.id) throw new HozironError('archive_invalid', `${archivePath} changed while it was being restored`);
    },
  };
  return {
    archivePath,
    manifest,
    info: archiveInfo(archivePath, manifest),
    refusal,
    checksumSource: expected.source,
    stageOpts,
    staged,
  };
}

/** The dry run: the same verification in a work area it deletes; nothing else changes. */
async function planRestore(
  home: HomeLayout,
  cfg: LoadedConfig,
  pre: Preflight,
  opts: RestoreOptions,
  warnings: string[],
): Promise<RestorePlan> {
  const id = randomUUID();
  // The walk of the current home runs in a worker while the archive is checked.
  const walked = startHomeWalk(home, cfg, pre, false);
  await claimWorkArea(home, id);
  let changes: RestoreChanges;
  try {
    // Checked as a restore checks it, but only the files a check needs are written.
    await stageArchive(pre.archivePath, stageDirOf(home, id), { ...pre.stageOpts, checkOnly: true });
    migrateStaged(stageDirOf(home, id), pre.manifest, pre.archivePath);
    changes = planChanges(await walked, pre.manifest);
    await reviewStaged(home, cfg, pre, stageDirOf(home, id), changes, false);
  } finally {
    await removeWorkArea(home, id);
    await tidyRestoreDir(home);
  }
  const plan: RestorePlan = {
    dry_run: true,
    restorable: pre.refusal === undefined,
    archive: pre.info,
    checksum_verified: pre.checksumSource !== 'none',
    checksum_source: pre.checksumSource,
    changes,
    since_backup: await sinceBackup(home, pre.manifest),
    warnings,
  };
  if (pre.refusal) plan.refusal = pre.refusal;
  return plan;
}

/**
 * Fill in what the staged archive changes beyond files: settings of its config, and API keys.
 * With `write`, the current home's revocations are applied to the staged keys.db.
 */
async function reviewStaged(
  home: HomeLayout,
  cfg: LoadedConfig,
  pre: Preflight,
  stage: string,
  changes: RestoreChanges,
  write: boolean,
): Promise<void> {
  changes.behaviour = behaviourChanges(cfg, pre.staged.cfg);
  if (pre.manifest.files.get(HOME_FILES.keys)) {
    changes.keys = await applyRevocations(home, join(stage, HOME_FILES.keys), write);
  }
}

/** Extract, verify and migrate into `stage`, all of it on disk before the journal may use it. */
async function stageDurably(pre: Preflight, stage: string, clock: RestoreClock): Promise<StageTimings> {
  const { timings } = await stageArchive(pre.archivePath, stage, { ...pre.stageOpts, durable: true });
  clock.lap('stage');
  for (const path of migrateStaged(stage, pre.manifest, pre.archivePath)) await fsyncFile(path);
  clock.lap('migrate');
  return timings;
}

const HOME_WALK = new URL('./home-walk-worker.js', import.meta.url);

/**
 * Walk the current home in a worker thread while the archive is staged: the sizes of its
 * files in the scope (for the plan of changes) and, with `collect`, the check that it can be
 * archived as it is (the collection a backup makes: no FIFO, nothing unreadable, the scope's
 * required files). A confirmed restore needs that check: `old/` will hold exactly these items,
 * and its safety backup must not fail after the swap, so otherwise it is refused before
 * anything changes, with the create's message.
 */
function startHomeWalk(home: HomeLayout, cfg: LoadedConfig, pre: Preflight, collect: boolean): Promise<[string, number][]> {
  const job: HomeWalkJob = {
    root: home.root,
    scope: pre.manifest.scope,
    collect,
    excluded: [cfg.storageDir, home.runDir, home.restoreDir],
  };
  const walked = runWorker<HomeWalkJob, [string, number][]>(HOME_WALK, job, { stopped: 'the walk of the current home stopped' }).result;
  walked.catch(() => undefined); // awaited after staging
  return walked;
}

/** The safety point, planned before the journal and made after the commit from the aside tree (safety-point.ts). */
function planSafetyBackup(cfg: LoadedConfig): SafetyPlan {
  return { id: randomUUID(), created_at: new Date().toISOString(), recipients: [...cfg.encryption.recipients] };
}

/**
 * Make the work area's `old/` tree ready to receive the swapped-out items (and the items'
 * parents in the home), and describe the swap in a journal. Nothing is written to disk for
 * the journal yet: until `writeJournal`, the home is untouched.
 */
async function prepareSwap(
  home: HomeLayout,
  id: string,
  pre: Preflight,
  opts: RestoreOptions,
  safety: SafetyPlan,
): Promise<RestoreJournal> {
  const items = swapItems(pre.manifest.scope);
  const old = asideDirOf(home, id);
  await fs.mkdir(old, { mode: 0o700 });
  for (const parent of new Set(items.map((i) => dirname(i)).filter((d) => d !== '.'))) {
    await fs.mkdir(join(old, parent), { recursive: true, mode: 0o700 });
    await fs.mkdir(home.path(parent), { recursive: true, mode: 0o755 });
  }
  return {
    version: 1,
    id,
    pid: process.pid,
    phase: 'swapping',
    scope: pre.manifest.scope,
    archive_id: pre.manifest.id,
    archive_path: pre.archivePath,
    safety_backup_id: safety.id,
    safety,
    actor: opts.actor,
    items: await Promise.all(items.map(async (path) => ({ path, existed: await exists(home.path(path)) }))),
  };
}

/** Write the journal, then swap every item in under it, reporting each step (and dying at one in the crash test). */
async function swapUnderJournal(home: HomeLayout, journal: RestoreJournal, opts: RestoreOptions): Promise<void> {
  const steps = journal.items.length * 2 + 1;
  const step = (n: number) => {
    opts.onProgress?.('swap', n, steps);
    if (n === KILL_AT_SWAP_STEP) process.kill(process.pid, 'SIGKILL');
  };
  await writeJournal(home, journal);
  step(0);
  await swapIn(home, journal, step);
  step(steps); // committed
}

/** Marks the end of each phase of a confirmed restore, for the result's timings. */
class RestoreClock {
  private last: number;
  readonly phases: Record<string, number> = {};

  constructor(readonly started: number) {
    this.last = started;
  }

  /** The phase `name` ended now (its time is added, so a phase may end more than once). */
  lap(name: string): void {
    const now = Date.now();
    this.phases[name] = (this.phases[name] ?? 0) + (now - this.last);
    this.last = now;
  }

  /** Record a phase measured elsewhere (inside another phase) without moving the clock. */
  note(name: string, ms: number): void {
    this.phases[name] = ms;
  }
}

function restoreTimings(clock: RestoreClock, staging: StageTimings): RestoreResult['timings'] {
  const p = clock.phases;
  const total = Date.now() - clock.started;
  return {
    stage_ms: p.stage ?? 0,
    ...staging,
    migrate_ms: p.migrate ?? 0,
    review_ms: p.review ?? 0,
    swap_ms: p.swap ?? 0,
    finish_ms: p.finish ?? 0,
    // Made after the swap, from the state moved aside, by a process of its own (safety-point.ts).
    safety_backup_ms: 0,
    restore_ms: total,
    total_ms: total,
  };
}

/**
 * The steps after the commit record: audit event, journal removal, cleanup. The home is
 * already entirely the archive's state, so a failure here (a full disk) does not fail the
 * restore: it is a warning, and the committed journal left behind lets the next command
 * finish these steps (recovery rolls a committed journal forward).
 */
async function finishAfterCommit(home: HomeLayout, committed: RestoreJournal, warn: (w: string) => void): Promise<boolean> {
  try {
    if (FAIL_AFTER_COMMIT) throw new Error('database or disk is full (injected by HOZIRON_TEST_FAIL_AFTER_COMMIT)');
    return await finishCommitted(home, committed, true);
  } catch (err) {
    warn(
      `the restore is complete, but recording it in the audit trail and removing the previous state failed (${(err as Error).message}); the next command finishes that`,
    );
    return false;
  }
}

/**
 * The confirmed restore, under the backup lock: stage → check the daemon again → safety
 * backup → journal and swap → commit. A failure before the journal removes the work area; a
 * failure during the swap rolls it back; from the commit on, only forward.
 */
async function restoreUnderLock(
  home: HomeLayout,
  cfg: LoadedConfig,
  pre: Preflight,
  opts: RestoreOptions,
  run: { started: number; warnings: string[]; warn: (w: string) => void },
): Promise<{ result: RestoreResult; safetyPending: boolean }> {
  const id = randomUUID();
  const clock = new RestoreClock(run.started);
  const walked = startHomeWalk(home, cfg, pre, true);
  await claimWorkArea(home, id);
  let journal: RestoreJournal | undefined;
  try {
    const staging = await stageDurably(pre, stageDirOf(home, id), clock);
    const changes = planChanges(await walked, pre.manifest);

    const late = daemonRefusal(home, opts);
    if (late) throw daemonError(late);
    const safety = planSafetyBackup(cfg);
    // As late as possible, so a key revoked meanwhile is caught too; durable before the journal.
    await reviewStaged(home, cfg, pre, stageDirOf(home, id), changes, true);
    const since = await sinceBackup(home, pre.manifest);
    clock.lap('review');

    journal = await prepareSwap(home, id, pre, opts, safety);
    await swapUnderJournal(home, journal, opts);
    clock.lap('swap');
    const committed: RestoreJournal = { ...journal, phase: 'committed' };
    journal = undefined; // committed: from here on, only forward (a failure is finished by the next command)
    const safetyPending = await finishAfterCommit(home, committed, run.warn);
    clock.lap('finish');
    const result: RestoreResult = {
      dry_run: false,
      restore_id: id,
      archive: pre.info,
      checksum_verified: pre.checksumSource !== 'none',
      checksum_source: pre.checksumSource,
      safety_backup: pendingRecord(cfg, { ...safety, scope: pre.manifest.scope }),
      changes,
      since_backup: since,
      timings: restoreTimings(clock, staging),
      warnings: run.warnings,
    };
    return { result, safetyPending };
  } catch (err) {
    if (journal) await abandonRestore(home, journal);
    else if (!(await exists(home.restoreJournal))) await removeWorkArea(home, id);
    await tidyRestoreDir(home);
    throw err;
  }
}

/** Restore a backup (see the module header): preflight → dry-run plan, or the confirmed restore. */
export async function restoreBackup(home: HomeLayout, cfg: LoadedConfig, opts: RestoreOptions): Promise<RestorePlan | RestoreResult> {
  const started = Date.now();
  const warnings: string[] = [];
  const warn = (w: string) => {
    warnings.push(w);
    opts.onWarning?.(w);
  };
  // A safety backup still being written from a previous restore's aside tree: wait for it.
  if (!namesArchiveFile(opts.source)) await awaitPendingSafety(home, cfg, opts.source);
  const archivePath = await resolveArchive(cfg, opts.source);
  const pre = await preflight(home, cfg, archivePath, opts, warnings, warn);
  // Staging writes into the home's work area: a raw errno error there names it.
  if (!opts.confirm) return withIoContext(home.restoreDir, () => planRestore(home, cfg, pre, opts, warnings));
  await ensureStorage(cfg);
  const done = await withBackupLock(cfg.storageDir, 'restore', () => restoreUnderLock(home, cfg, pre, opts, { started, warnings, warn }));
  // Once the lock is free: the safety backup is made from the aside tree by a process of its
  // own; until it is complete, `backup list` shows it pending and nothing can lose it.
  if (done.safetyPending) await startSafetyFinisher(home, cfg, done.result.restore_id);
  return done.result;
}
