/**
 * Unpack an archive into a fresh directory and prove it complete and sound, in one pass:
 * the whole-archive SHA-256 is computed while the strict reader extracts (compared with
 * `expectedSha256` at the end, when given), each
 * database is checked in a worker as soon as its last byte is written, and the audit chain
 * must reach the manifest's head. Every hostile-entry check lives in the reader and is never
 * skipped. Files are created with O_EXCL|O_NOFOLLOW below a directory this function created
 * (0700), so nothing is ever written outside `destDir`; modes are not the archive's but the
 * restore rule of restore-modes.ts (secrets 0600, directories 0700, other files at most 0644).
 * A check that fails (a database, or a file check of the caller's such as the config) stops
 * the extraction at the next entry rather than after the last one. The writes run in a worker thread
 * (stage-writer.ts), overlapping the gunzip (thread pool) and the parsing and hashing (main
 * thread). Nothing is fsynced unless `durable` is asked for (restore swaps the result into
 * the home, fsyncing each database as soon as it is written and then the whole tree; verify
 * deletes it). On failure `destDir` is removed.
 * Names that differ only in case or Unicode normalisation are refused only when the file
 * system of `destDir` (probed once) would merge them (name-folding.ts).
 * Crash safety: a process killed here leaves only a partial `destDir`, which callers treat
 * as garbage (restore recovery deletes stale staging directories).
 */
import { chmodSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { HozironError, errnoCode } from '../errors.js';
import { DATABASES, HOME_FILES } from '../home/layout.js';
import { readArchive, type EntrySink, type KnownManifest } from '../archive/reader.js';
import type { Manifest, ManifestDir, ManifestFile } from '../archive/manifest.js';
import type { Identity } from '../crypto/keys.js';
import { checkDatabaseInWorker } from './db-check.js';
import { fsyncFile, syncTree } from '../fsutil/durable.js';
import { StageWriter } from './stage-writer.js';
import { RESTORED_DIR_MODE, restoredFileMode } from './restore-modes.js';
import { fsPath } from '../archive/entry-name.js';
import type { NameFolding } from '../archive/entry-paths.js';
import { checkRestorableNames, probeNameFolding } from './name-folding.js';

/** A caller's check of one staged file (e.g. the config validates); throws a HozironError to refuse. */
export type StagedFileCheck = (path: string) => void | Promise<void>;

export interface StageOptions {
  /** The archive's SHA-256 must be this (hex); undefined: the whole-archive checksum is skipped. */
  expectedSha256?: string;
  onProgress?: (done: number, total: number) => void;
  /** Called with the manifest before anything is extracted (a preflight may throw). */
  onManifest?: (m: Manifest) => void | Promise<void>;
  /**
   * Make the staged tree durable before returning (for a caller that swaps it in). The sync
   * runs while the last database checks are still going, so it costs little extra time.
   */
  durable?: boolean;
  /** The manifest as a preflight already read it: reused when the archive's is byte-identical. */
  knownManifest?: KnownManifest;
  /** Checks of staged files by home-relative path, run as soon as each file is written. */
  fileChecks?: Readonly<Record<string, StagedFileCheck>>;
  /** To open an encrypted archive. */
  identities?: readonly Identity[];
  /**
   * Check without unpacking (a dry run): every entry is read, hashed and checked exactly as
   * for a restore, but only the databases and the files of `fileChecks` are written to
   * `destDir` (a check needs them as files); nothing else touches the disk.
   */
  checkOnly?: boolean;
}

/** Where a staging's wall time went (see RestoreTimings in api/restore.ts). */
export interface StageTimings {
  extract_ms: number;
  write_ms: number;
  db_check_ms: number;
  fsync_ms: number;
}

export interface StageResult {
  manifest: Manifest;
  archiveSha256: string;
  timings: StageTimings;
}

/** Hands the entries to a `StageWriter` and starts each database's check once it is written. */
class StagingSink implements EntrySink {
  private readonly dirModes: ManifestDir[] = [];
  readonly checks: Promise<string | null>[] = [];
  /** Early fsyncs of the databases (most of an archive's bytes), when the tree must be durable. */
  readonly syncs: Promise<void>[] = [];
  private manifestSeen: Manifest | undefined;
  /** The first failed check: the extraction stops at the next entry. */
  private failure: Error | undefined;
  readonly writer: StageWriter;
  /** Whether the entry being read is written (always, unless checkOnly). */
  private writing = false;

  constructor(
    private readonly dest: string,
    private readonly archivePath: string,
    private readonly folding: NameFolding,
    private readonly onManifest?: (m: Manifest) => void | Promise<void>,
    private readonly durable = false,
    private readonly fileChecks: Readonly<Record<string, StagedFileCheck>> = {},
    private readonly checkOnly = false,
  ) {
    this.writer = new StageWriter(dest, (rel) => this.startCheck(rel));
  }

  /** A file whose check needs it on disk: a database, or one the caller checks. */
  private needsFile(rel: string): boolean {
    return (DATABASES as readonly string[]).includes(rel) || rel in this.fileChecks;
  }

  async manifest(m: Manifest): Promise<void> {
    this.manifestSeen = m;
    // Before any entry is written: names this file system would merge are refused here.
    checkRestorableNames(m, this.folding, this.archivePath, this.dest);
    await this.onManifest?.(m);
  }

  directory(dir: ManifestDir): void {
    if (this.checkOnly) return;
    this.writer.directory(dir.path);
    this.dirModes.push(dir);
  }

  openFile(file: ManifestFile): void {
    if (this.failure) throw this.failure;
    this.writing = !this.checkOnly || this.needsFile(file.path);
    if (this.writing) this.writer.open(file.path);
  }

  data(chunk: Buffer): void | Promise<void> {
    if (this.writing) return this.writer.data(chunk);
  }

  closeFile(file: ManifestFile): void {
    if (this.writing) this.writer.close(file.path, restoredFileMode(file.path, file.mode), this.needsFile(file.path));
    this.writing = false;
  }

  private startCheck(rel: string): void {
    const fileCheck = this.fileChecks[rel];
    if (fileCheck) {
      const checked = Promise.resolve().then(() => fileCheck(join(this.dest, rel)));
      checked.catch((err: unknown) => (this.failure ??= err as Error));
      const result = checked.then(() => null);
      result.catch(() => undefined); // awaited (and reported) in stageArchive
      this.checks.push(result);
      return;
    }
    const m = this.manifestSeen!;
    const auditHead = rel === HOME_FILES.audit ? m.audit_head : undefined;
    const path = join(this.dest, rel);
    const size = m.files.get(rel)?.size;
    const check = checkDatabaseInWorker({ path, rel, auditHead }, size);
    check.then(
      (problem) => {
        if (problem) this.failure ??= new HozironError('integrity', `${this.archivePath}: ${problem}`);
      },
      () => undefined, // awaited (and reported) in stageArchive
    );
    this.checks.push(check);
    if (this.durable) {
      // Start its write-back now, while the rest extracts, rather than all in the final sync.
      const synced = fsyncFile(path);
      synced.catch(() => undefined); // awaited in stageArchive
      this.syncs.push(synced);
    }
  }

  /** Every listed directory 0700, whatever its archived mode (restore-modes.ts). */
  finishDirs(): void {
    // Deepest first, so a directory is still writable while its children are set.
    for (const d of [...this.dirModes].sort((a, b) => b.path.length - a.path.length)) {
      chmodSync(fsPath(this.dest, d.path), RESTORED_DIR_MODE);
    }
  }
}

async function makeFreshDir(destDir: string): Promise<void> {
  try {
    await fs.mkdir(destDir, { mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const st = await fs.lstat(destDir);
    if (!st.isDirectory() || (await fs.readdir(destDir)).length > 0) {
      throw new HozironError('io', `staging directory ${destDir} already exists and is not empty`);
    }
  }
  await fs.chmod(destDir, 0o700);
}

/**
 * Unpack `archivePath` into `destDir` (created 0700) and prove it: every entry against the
 * manifest, the archive checksum (when opts.expectedSha256 is given), integrity_check of
 * each database and the audit chain up to the manifest's audit head. Throws a HozironError
 * naming the first problem, after removing destDir.
 */
export async function stageArchive(archivePath: string, destDir: string, opts: StageOptions): Promise<StageResult> {
  const expected = opts.expectedSha256;
  await makeFreshDir(destDir);
  let folding: NameFolding;
  try {
    folding = await probeNameFolding(destDir);
  } catch (err) {
    await fs.rm(destDir, { recursive: true, force: true });
    throw err;
  }
  const sink = new StagingSink(destDir, archivePath, folding, opts.onManifest, opts.durable, opts.fileChecks, opts.checkOnly);
  try {
    const total = opts.onProgress ? (await fs.stat(archivePath)).size : 0;
    const onBytes = opts.onProgress ? (n: number) => opts.onProgress!(n, total) : undefined;
    let mark = Date.now();
    const lap = () => {
      const now = Date.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };
    const { manifest, sha256 } = await readArchive(archivePath, sink, onBytes, opts.knownManifest, opts.identities);
    const extract_ms = lap();
    await sink.writer.finish();
    const write_ms = lap();
    if (expected !== undefined && sha256 !== expected) {
      throw new HozironError(
        'archive_invalid',
        `${archivePath}: checksum mismatch: the archive's SHA-256 is ${sha256}, expected ${expected}`,
        'the archive was corrupted or altered after it was made; use another backup',
      );
    }
    const synced = opts.durable ? Promise.all(sink.syncs).then(() => syncTree(destDir)) : Promise.resolve();
    synced.catch(() => undefined); // awaited below, after the checks report
    for (const problem of await Promise.all(sink.checks)) {
      if (problem) throw new HozironError('integrity', `${archivePath}: ${problem}`);
    }
    const db_check_ms = lap();
    await synced;
    sink.finishDirs();
    return { manifest, archiveSha256: sha256, timings: { extract_ms, write_ms, db_check_ms, fsync_ms: lap() } };
  } catch (err) {
    await sink.writer.stop();
    await Promise.allSettled([...sink.checks, ...sink.syncs]);
    await fs.rm(destDir, { recursive: true, force: true });
    throw err;
  }
}
