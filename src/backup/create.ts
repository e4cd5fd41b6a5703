/**
 * `createBackup`: one archive of the home (full or agents scope), written as a stream by
 * `ArchiveWriter` (manifest first), under the backup lock.
 *
 * Consistency: databases are `VACUUM INTO` snapshots taken in a worker thread while the
 * plain files stream (see snapshot.ts); each is archived as soon as its snapshot is ready.
 * Plain files are read by read-file.ts: whole and re-read if torn (up to 4 MiB), streamed
 * with a warning if changed (larger). Either way an entry's bytes are exactly the bytes
 * hashed for its manifest line, so an archive never disagrees with its manifest.
 *
 * Crash safety: nothing is visible under a real name until the archive is complete and
 * fsynced: the sidecars (`.sha256`, `.json`) are written first, then the archive is linked
 * into place and the directory fsynced. A crash before that leaves temporary files and
 * sidecars without an archive, which the next backup command removes; after it, a complete
 * archive. Retention runs only after that success and never deletes the new archive.
 *
 * Encryption (recipients configured): the archive is `….tar.gz.age` (see ArchiveWriter), and
 * the database snapshots, plaintext by nature, are taken in the home's `run/` rather than in
 * the storage directory, so the storage path never holds a plaintext byte of the home.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { BackupRecord, PruneEntry } from '../api/types.js';
import { DirList, FileList, FORMAT_VERSION, type Manifest, type ManifestFile } from '../archive/manifest.js';
import { manifestNameReplacer } from '../archive/entry-name.js';
import { PreviousArchive } from '../archive/member-reuse.js';
import { ArchiveWriter, estimateManifestMember, type FinishedArchive } from '../archive/writer.js';
import { removeLeftovers } from '../fsutil/temp.js';
import { HozironError, withIoContext } from '../errors.js';
import { ensureDir } from '../fsutil/atomic.js';
import type { Recipient } from '../crypto/keys.js';
import type { LoadedConfig } from '../home/config.js';
import { HOME_FILES, HomeLayout } from '../home/layout.js';
import type { AuditHead } from '../stores/audit.js';
import { HOZIRON_VERSION } from '../version.js';
import { ENCRYPTED_SUFFIX, PLAIN_SUFFIX, archiveRecipients, encryptsArchives } from './archive-keys.js';
import { describeArchive, preRestoreDir } from './catalog.js';
import { collectScope, type Collection } from './collect.js';
import { archiveFile, readChunks } from './read-file.js';
import { withBackupLock } from './lock.js';
import { PRE_RESTORE_RETENTION, applyRetention, auditEvent, tidyStorage } from './retention.js';
import { findPreviousArchive } from './previous.js';
import { checksumSidecar, summarizeManifest, summarySidecar, writeChecksum, writeSummary } from './sidecars.js';
import { uploadAfterCreate } from './offsite.js';
import { SnapshotRunner } from './snapshot.js';
import { ensureStorage } from './storage.js';
import { exists } from '../fsutil/exists.js';

type CreatePhase = 'snapshot' | 'compress' | 'write';

export interface CreateOptions {
  scope: 'full' | 'agents';
  /** Absolute archive path (--output); default <storageDir>/hoziron-backup-YYYYMMDD_HHMMSS.tar.gz. */
  output?: string;
  /** pre-restore → <storageDir>/pre-restore/, with its own retention (3). */
  kind?: 'regular' | 'pre-restore';
  /** For the audit event, e.g. "cli" or "api:<key id>". */
  actor: string;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** What the create is doing now: waiting for a database snapshot, compressing, or writing out (fsync, sidecars, link). */
  onPhase?: (phase: CreatePhase) => void;
  /** True when the caller already holds withBackupLock (restore does). */
  lockHeld?: boolean;
  /** Default true: append backup.create to audit.db. */
  audit?: boolean;
  /** Non-fatal problems (a symlink skipped, a file that kept changing, retention trouble). */
  onWarning?: (message: string) => void;
  /** Each archive that retention deleted after this create. */
  onPruned?: (entry: PruneEntry) => void;
  /**
   * Archive this tree instead of the live home: a restore's aside tree (`.restore/<id>/old/`,
   * the home's items as they were, its databases closed), under the id and time the restore
   * gave the safety backup, encrypted to the recipients the home had then (none: the config's).
   */
  from?: { root: string; id: string; created: Date; recipients: Recipient[] };
}

/**
 * Fault injection for the crash test only: the process kills itself (SIGKILL) right after
 * the archive is linked into place, before its audit event. Unset in normal use.
 */
const KILL_AFTER_LINK = process.env.HOZIRON_TEST_KILL_AFTER_LINK === '1';

function stamp(d: Date): string {
  const iso = d.toISOString(); // 2026-06-05T02:00:00.000Z
  return `${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 19).replace(/:/g, '')}`;
}

async function nameTaken(path: string): Promise<boolean> {
  return (await exists(path)) || (await exists(checksumSidecar(path))) || (await exists(summarySidecar(path)));
}

/** `hoziron-backup-YYYYMMDD_HHMMSS.tar.gz[.age]`, with `-2`, `-3`… if that second is taken. */
async function defaultTarget(dir: string, created: Date, suffix: string): Promise<string> {
  const base = `hoziron-backup-${stamp(created)}`;
  for (let n = 1; ; n++) {
    const path = join(dir, `${base}${n === 1 ? '' : `-${n}`}${suffix}`);
    if (!(await nameTaken(path))) return path;
  }
}

async function outputTarget(output: string, encrypted: boolean): Promise<string> {
  const path = resolve(output);
  // The name tells every reader (and a person) whether the file is an age file.
  if (encrypted !== path.endsWith(ENCRYPTED_SUFFIX)) {
    throw new HozironError(
      'usage',
      encrypted
        ? `${path}: an encrypted archive's name must end in ${ENCRYPTED_SUFFIX} (recipients are configured)`
        : `${path}: a name ending in ${ENCRYPTED_SUFFIX} is for encrypted archives, and no recipients are configured`,
      'choose another path',
    );
  }
  const parent = await fs.stat(dirname(path)).catch(() => undefined);
  if (!parent?.isDirectory()) {
    throw new HozironError('usage', `the output directory ${dirname(path)} does not exist`, 'create it first, or choose another path');
  }
  if (await nameTaken(path)) {
    throw new HozironError('conflict', `${path} (or its .sha256/.json sidecar) already exists; not replacing it`, 'choose another path');
  }
  return path;
}

type CreateKind = NonNullable<CreateOptions['kind']>;

/** The archive's path: --output as given (checked), else the next free default name in storage (pre-restore/ for a safety backup). */
async function chooseTarget(cfg: LoadedConfig, opts: CreateOptions, kind: CreateKind, created: Date, encrypted: boolean): Promise<string> {
  const dir = kind === 'pre-restore' ? preRestoreDir(cfg) : cfg.storageDir;
  if (kind === 'pre-restore') await ensureDir(dir, 0o700);
  return opts.output
    ? await outputTarget(opts.output, encrypted)
    : await defaultTarget(dir, created, encrypted ? ENCRYPTED_SUFFIX : PLAIN_SUFFIX);
}

/** What one create writes, and where its warnings and progress go. */
interface ArchiveJob {
  /** The manifest's id (random unless `from` gives it). */
  id: string;
  /** When this create began (`created` is earlier for a safety backup made after its restore). */
  started: number;
  target: string;
  /** The archive's kind by where it lands (an --output into pre-restore/ counts as one). */
  kindAt: CreateKind;
  created: Date;
  scope: CreateOptions['scope'];
  /** Empty: a plain tar.gz. */
  recipients: Recipient[];
  /** Where database snapshots are taken. */
  snapshotDir: string;
  /** The storage directory: where, besides the target's own, a previous archive is looked for. */
  storageDir: string;
  warn: (message: string) => void;
  onProgress: CreateOptions['onProgress'];
  onPhase?: CreateOptions['onPhase'];
  /** Filled in as the create goes: milliseconds per phase (see `CreateTimings`). */
  timings: CreateTimings;
}

/**
 * Where a create's time went, in milliseconds: `collect` (walking the home), `snapshot`
 * (the database snapshots, in their worker), `snapshot_wait` (the archive waiting for one),
 * `stream` (every entry read, hashed and compressed), within it `hash` and `compress` (summed
 * over parallel work) and `write`; then `manifest`, `checksum` (the finished file read back),
 * `fsync`, `seal` (manifest to sidecars and link), and `total`. `reused_*`: members copied
 * from the previous archive instead of compressed (their verification is `reuse_verify`).
 */
type CreateTimings = Record<string, number>;

const since = (start: number) => Math.round(performance.now() - start);

/** Counts archived bytes against a total that is corrected as each snapshot's size is known. */
class ByteProgress {
  private done = 0;

  constructor(
    private total: number,
    private readonly onProgress: CreateOptions['onProgress'],
  ) {}

  readonly onBytes = (n: number): void => {
    this.done += n;
    this.onProgress?.(this.done, Math.max(this.total, this.done));
  };

  resize(delta: number): void {
    this.total += delta;
  }
}

/**
 * Stream every entry of `collection` into the archive and put it in place: the sidecars
 * first, then the link to the real name. On failure nothing is left under a real name (see
 * the module header): the temporary archive and snapshots are removed, and the sidecars if
 * they were written for an archive that never appeared.
 */
async function writeArchive(job: ArchiveJob, collection: Collection): Promise<void> {
  const progress = new ByteProgress(
    collection.files.reduce((n, f) => n + f.size, 0) + collection.dbs.reduce((n, d) => n + d.size, 0),
    job.onProgress,
  );
  const snapshots = SnapshotRunner.start(
    collection.dbs.map((d) => ({ rel: d.rel, src: d.abs, auditHead: d.rel === HOME_FILES.audit })),
    job.snapshotDir,
  );
  const t = job.timings;
  let started = performance.now();
  // Estimated on the thread pool while the first entries are read; the first write waits for it.
  const reserve = estimateManifestMember(draftManifestText(job, collection));
  reserve.catch(() => undefined);
  // An encrypted archive never reuses a previous one's (plaintext) members.
  const previous = job.recipients.length > 0 ? undefined : await findPreviousArchive([dirname(job.target), job.storageDir]);
  const reuse = previous ? await PreviousArchive.open(previous.path, previous.members) : undefined;
  t.prepare = since(started);
  const writer = await ArchiveWriter.open(job.target, job.recipients, { reserve, reuse });
  let sidecarsWritten = false;
  try {
    job.onPhase?.('compress');
    started = performance.now();
    const { files, auditHead } = await archiveEntries(writer, collection, snapshots, job, progress);
    t.stream = since(started);
    job.onPhase?.('write');
    started = performance.now();
    const manifest = buildManifest(job, collection, files, auditHead);
    const finished = await writer.finish(manifest);
    sidecarsWritten = true;
    await writeSidecars(job, finished, manifest);
    await writer.commit();
    t.seal = since(started);
    Object.assign(t, finished.timings);
    t.snapshot = snapshots.workMs;
    if (reuse) {
      t.reused_members = reuse.stats.members;
      t.reused_bytes = reuse.stats.bytes;
      t.reuse_refused = reuse.stats.refused;
      t.reuse_verify = Math.round(reuse.stats.verifyMs);
    }
    if (KILL_AFTER_LINK) process.kill(process.pid, 'SIGKILL');
  } catch (err) {
    await writer.abort();
    await snapshots.cancel();
    if (sidecarsWritten && !(await exists(job.target))) {
      await fs.rm(checksumSidecar(job.target), { force: true });
      await fs.rm(summarySidecar(job.target), { force: true });
    }
    throw err;
  } finally {
    await reuse?.close();
  }
}

/** Directories, plain files and database snapshots into `writer`; returns the manifest's files. */
async function archiveEntries(
  writer: ArchiveWriter,
  collection: Collection,
  snapshots: SnapshotRunner,
  job: ArchiveJob,
  progress: ByteProgress,
): Promise<{ files: ManifestFile[]; auditHead: AuditHead | null }> {
  for (const d of collection.dirs) await writer.addDirectory(d.rel, d);
  const files: ManifestFile[] = [];
  let auditHead: AuditHead | null = null;
  let nextDb = 0;
  const archiveNextDb = async () => {
    const db = collection.dbs[nextDb++]!;
    const waiting = !snapshots.ready(db.rel);
    if (waiting) job.onPhase?.('snapshot');
    const started = performance.now();
    const snap = await snapshots.get(db.rel);
    job.timings.snapshot_wait = (job.timings.snapshot_wait ?? 0) + since(started);
    if (waiting) job.onPhase?.('compress');
    const fh = await fs.open(snap.path, 'r');
    try {
      const size = (await fh.stat()).size;
      progress.resize(size - db.size);
      files.push(await writer.addStream(db.rel, size, { mode: db.mode, mtime: job.created }, readChunks(fh, size), progress.onBytes));
    } finally {
      await fh.close();
    }
    await snapshots.release(db.rel);
    if (db.rel === HOME_FILES.audit) auditHead = snap.auditHead;
  };
  for (const f of collection.files) {
    const entry = await archiveFile(writer, f, job.warn, progress.onBytes);
    if (entry) files.push(entry);
    // Each database goes in as soon as its snapshot is ready, not last: a restore then
    // checks it (integrity_check, audit chain) while it extracts the remaining files.
    while (nextDb < collection.dbs.length && snapshots.ready(collection.dbs[nextDb]!.rel)) await archiveNextDb();
  }
  while (nextDb < collection.dbs.length) await archiveNextDb();
  return { files, auditHead };
}

/** Lines of the draft manifest per piece of its text. */
const DRAFT_BATCH = 512;

/**
 * The text of the manifest as it will be but for what only the archiving tells (digests,
 * snapshot sizes, the audit head): stand-ins of the same shape and at least the same
 * length, in pieces, from which the writer reserves room for the real one (ArchiveWriter).
 */
function* draftManifestText(job: ArchiveJob, collection: Collection): Generator<string> {
  const digest = () => randomBytes(32).toString('hex');
  const head = JSON.stringify({
    format: FORMAT_VERSION,
    id: randomUUID(),
    created_at: job.created.toISOString(),
    scope: job.scope,
    hoziron_version: HOZIRON_VERSION,
    host: hostname(),
  });
  function* lines(): Generator<object> {
    for (const f of collection.files) yield { path: f.rel, size: f.size, mode: f.mode, sha256: digest() };
    // A snapshot may outgrow the live file (pages still in its -wal): one more digit.
    for (const d of collection.dbs) yield { path: d.rel, size: d.size * 10 + 9, mode: d.mode, sha256: digest() };
  }
  function* batched(items: Iterable<object>): Generator<string> {
    let batch: string[] = [];
    let first = true;
    for (const item of items) {
      batch.push(JSON.stringify(item, manifestNameReplacer));
      if (batch.length === DRAFT_BATCH) {
        yield `${first ? '' : ','}${batch.join(',')}`;
        first = false;
        batch = [];
      }
    }
    if (batch.length > 0) yield `${first ? '' : ','}${batch.join(',')}`;
  }
  yield `${head.slice(0, -1)},"files":[`;
  yield* batched(lines());
  yield '],"dirs":[';
  yield* batched(collection.dirs.map((d) => ({ path: d.rel, mode: d.mode })));
  const audit = job.scope === 'full' ? { seq: Number.MAX_SAFE_INTEGER, hash: digest() } : null;
  yield `],"audit_head":${JSON.stringify(audit)}}`;
}

function buildManifest(job: ArchiveJob, collection: Collection, files: ManifestFile[], auditHead: AuditHead | null): Manifest {
  return {
    format: FORMAT_VERSION,
    id: job.id,
    created_at: job.created.toISOString(),
    scope: job.scope,
    hoziron_version: HOZIRON_VERSION,
    host: hostname(),
    files: FileList.from(files),
    dirs: DirList.from(collection.dirs.map((d) => ({ path: d.rel, mode: d.mode }))),
    audit_head: job.scope === 'full' ? auditHead : null,
  };
}

async function writeSidecars(job: ArchiveJob, finished: FinishedArchive, manifest: Manifest): Promise<void> {
  await writeChecksum(job.target, finished.sha256);
  await writeSummary(job.target, {
    summary_format: 1,
    archive: { size: finished.size, mtime_ms: finished.mtimeMs },
    kind: job.kindAt,
    checksum: `sha256:${finished.sha256}`,
    manifest: summarizeManifest(manifest),
    last_verified_at: null,
    ...(finished.members ? { members: finished.members } : {}),
    // Wall time from the start of the create to its sidecars: what the console charts.
    duration_ms: Date.now() - job.started,
  });
}

/** Append `backup.create` to audit.db (a failure only warns: the archive is already in place). */
function auditCreate(home: HomeLayout, actor: string, record: BackupRecord, warn: (message: string) => void): void {
  const details = {
    id: record.id,
    scope: record.scope,
    checksum: record.checksum,
    size_bytes: record.size_bytes,
    file: basename(record.path),
  };
  auditEvent(home, actor, 'backup.create', record.id, details, warn);
}

/** Retention of the new archive's kind; it never deletes the new archive, and a failure only warns. */
async function applyRetentionAfterCreate(
  home: HomeLayout,
  cfg: LoadedConfig,
  opts: CreateOptions,
  kind: CreateKind,
  target: string,
  warn: (message: string) => void,
): Promise<void> {
  const reported = {
    onDeleted: opts.onPruned,
    onBroken: (b: PruneEntry) => warn(`${b.file ?? b.path} ${b.reason}; left in place for you to check or delete`),
  };
  try {
    if (kind === 'pre-restore') {
      await applyRetention(home, cfg, {
        keep: PRE_RESTORE_RETENTION,
        kind: 'pre-restore',
        protect: target,
        actor: opts.actor,
        audit: opts.audit,
        onWarning: warn,
        ...reported,
      });
    } else {
      await applyRetention(home, cfg, {
        keep: cfg.config.backup.retention,
        kind: 'regular',
        protect: target,
        actor: opts.actor,
        audit: opts.audit,
        onWarning: warn,
        ...reported,
      });
    }
  } catch (err) {
    warn(`retention could not run: ${(err as Error).message}`);
  }
}

/** The create itself, the backup lock already held: target → collect → archive → record → retention. */
async function createUnlocked(home: HomeLayout, cfg: LoadedConfig, opts: CreateOptions): Promise<BackupRecord> {
  const warn = opts.onWarning ?? (() => undefined);
  const kind = opts.kind ?? 'regular';
  const begun = performance.now();
  const timings: CreateTimings = {};
  await ensureDir(cfg.storageDir, 0o700);
  await tidyStorage(home, cfg, warn);
  const startedAt = Date.now();
  const created = opts.from?.created ?? new Date();
  const recipients = opts.from && opts.from.recipients.length > 0 ? opts.from.recipients : archiveRecipients(cfg);
  const target = await chooseTarget(cfg, opts, kind, created, opts.from?.recipients.length ? true : encryptsArchives(cfg));
  const kindAt = dirname(target) === preRestoreDir(cfg) ? 'pre-restore' : 'regular';
  // A create killed while writing to an --output directory left its temporary files there
  // (tidyStorage above has already swept the storage directories).
  if (opts.output && dirname(target) !== cfg.storageDir && kindAt === 'regular') await removeLeftovers(dirname(target));

  const snapshotDir = recipients.length > 0 ? home.runDir : cfg.storageDir;
  if (snapshotDir !== cfg.storageDir) {
    await ensureDir(snapshotDir, 0o700);
    await removeLeftovers(snapshotDir);
  }

  let started = performance.now();
  const source = opts.from ? new HomeLayout(opts.from.root) : home;
  const collection = await collectScope(source, opts.scope, [cfg.storageDir, source.runDir, source.restoreDir]);
  timings.collect = since(started);
  collection.warnings.forEach(warn);
  // A raw errno error while writing (a full disk: a write on an open file names no path)
  // names the directory the archive was being written to.
  await withIoContext(dirname(target), () =>
    writeArchive(
      {
        id: opts.from?.id ?? randomUUID(),
        started: startedAt,
        target,
        kindAt,
        created,
        scope: opts.scope,
        recipients,
        snapshotDir,
        storageDir: cfg.storageDir,
        warn,
        onProgress: opts.onProgress,
        onPhase: opts.onPhase,
        timings,
      },
      collection,
    ),
  );

  started = performance.now();
  const { record } = await describeArchive(target, kindAt, false);
  if (opts.audit !== false) auditCreate(home, opts.actor, record, warn);
  await applyRetentionAfterCreate(home, cfg, opts, kind, target, warn);
  timings.record = since(started);
  timings.total = since(begun);
  return { ...record, timings };
}

/** How a create names itself in the backup lock (what a refused operation is told). */
export function lockOperation(opts: Pick<CreateOptions, 'kind'>): string {
  return opts.kind === 'pre-restore' ? 'pre-restore backup' : 'create';
}

/** Create one backup archive (see the module header). */
export async function createBackup(home: HomeLayout, cfg: LoadedConfig, opts: CreateOptions): Promise<BackupRecord> {
  // The off-host copy runs still under the lock (offsite.ts); it never fails the create.
  const run = async () => uploadAfterCreate(home, cfg, await createUnlocked(home, cfg, opts), opts);
  if (opts.lockHeld) return run();
  await ensureStorage(cfg);
  return withBackupLock(cfg.storageDir, lockOperation(opts), run);
}
