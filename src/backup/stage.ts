/**
 * Unpack an archive into a fresh directory and prove it complete and sound, in one pass:
 * the whole-archive SHA-256 is computed while the strict reader extracts (compared with the
 * `.sha256` sidecar or `expectedSha256` at the end, unless `verifyChecksum` is false), each
 * database is checked in a worker as soon as its last byte is written, and the audit chain
 * must reach the manifest's head. Every hostile-entry check lives in the reader and is never
 * skipped. Files are created with O_EXCL|O_NOFOLLOW below a directory this function created
 * (0700), so nothing is ever written outside `destDir`; modes come from the manifest & 0o777
 * (set-uid/set-gid/sticky never restored). Writes are plain syscalls on the main thread: the
 * gunzip runs in the thread pool meanwhile, and a pool round trip per small file would cost
 * more than the write itself. Nothing is fsynced unless `durable` is asked for (restore
 * swaps the result into the home; verify deletes it). On failure `destDir` is removed.
 * Crash safety: a process killed here leaves only a partial `destDir`, which callers treat
 * as garbage (restore recovery deletes stale staging directories).
 */
import { closeSync, constants as fsc, fchmodSync, mkdirSync, openSync, writeSync, chmodSync, promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { HozironError, errnoCode } from '../errors.js';
import { DATABASES, HOME_FILES } from '../home/layout.js';
import { readArchive, type EntrySink, type KnownManifest } from '../archive/reader.js';
import type { Manifest, ManifestDir, ManifestFile } from '../archive/manifest.js';
import { checkDatabaseInWorker } from './db-check.js';
import { syncTree } from './durable.js';

export interface StageOptions {
  verifyChecksum: boolean;
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
}

export interface StageResult {
  manifest: Manifest;
  archiveSha256: string;
}

const FILE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** Writes the entries under destDir; knows every directory it made, so no path can detour. */
class StagingSink implements EntrySink {
  private readonly made = new Set<string>(['']);
  private readonly dirModes: ManifestDir[] = [];
  private fd: number | undefined;
  readonly checks: Promise<string | null>[] = [];
  private manifestSeen: Manifest | undefined;

  constructor(
    private readonly dest: string,
    private readonly onManifest?: (m: Manifest) => void | Promise<void>,
  ) {}

  async manifest(m: Manifest): Promise<void> {
    this.manifestSeen = m;
    await this.onManifest?.(m);
  }

  private mkdirs(rel: string): void {
    if (this.made.has(rel)) return;
    const cut = rel.lastIndexOf('/');
    if (cut > 0) this.mkdirs(rel.slice(0, cut));
    // mkdir (not recursive) fails on anything already there: no symlink can be followed.
    mkdirSync(join(this.dest, rel), 0o700);
    this.made.add(rel);
  }

  directory(dir: ManifestDir): void {
    this.mkdirs(dir.path);
    this.dirModes.push(dir);
  }

  openFile(file: ManifestFile): void {
    const cut = file.path.lastIndexOf('/');
    if (cut > 0) this.mkdirs(file.path.slice(0, cut));
    this.fd = openSync(join(this.dest, file.path), FILE_FLAGS, 0o600);
  }

  data(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd!, chunk, off, chunk.length - off);
  }

  closeFile(file: ManifestFile): void {
    fchmodSync(this.fd!, file.mode & 0o777);
    closeSync(this.fd!);
    this.fd = undefined;
    if ((DATABASES as readonly string[]).includes(file.path)) {
      const m = this.manifestSeen!;
      const path = join(this.dest, file.path);
      const auditHead = file.path === HOME_FILES.audit ? m.audit_head : undefined;
      const check = checkDatabaseInWorker({ path, rel: file.path, auditHead }, file.size);
      check.catch(() => undefined); // awaited (and reported) in finish()
      this.checks.push(check);
    }
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Directory modes last (deepest first), so a read-only directory never blocks extraction. */
  finishDirs(): void {
    // The owner keeps rwx on directories: hoziron must be able to move and replace them.
    for (const d of [...this.dirModes].sort((a, b) => b.path.length - a.path.length)) {
      chmodSync(join(this.dest, d.path), (d.mode & 0o777) | 0o700);
    }
  }
}

/** The checksum recorded in `<archive>.sha256` (sha256sum format). */
export async function readSidecar(archivePath: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(`${archivePath}.sha256`, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new HozironError(
        'archive_invalid',
        `${archivePath}: no checksum sidecar ${basename(archivePath)}.sha256 to verify against`,
        'pass --no-verify to skip the whole-archive checksum (every entry is still checked)',
      );
    }
    throw err;
  }
  const m = /^([0-9a-fA-F]{64})\s/.exec(text);
  if (!m) throw new HozironError('archive_invalid', `${archivePath}.sha256 is not in sha256sum format`);
  return m[1]!.toLowerCase();
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
 * manifest, the archive checksum (unless opts.verifyChecksum is false), integrity_check of
 * each database and the audit chain up to the manifest's audit head. Throws a HozironError
 * naming the first problem, after removing destDir.
 */
export async function stageArchive(archivePath: string, destDir: string, opts: StageOptions): Promise<StageResult> {
  const expected = opts.verifyChecksum ? (opts.expectedSha256?.replace(/^sha256:/, '').toLowerCase() ?? (await readSidecar(archivePath))) : undefined;
  await makeFreshDir(destDir);
  const sink = new StagingSink(destDir, opts.onManifest);
  try {
    const total = opts.onProgress ? (await fs.stat(archivePath)).size : 0;
    const onBytes = opts.onProgress ? (n: number) => opts.onProgress!(n, total) : undefined;
    const { manifest, sha256 } = await readArchive(archivePath, sink, onBytes, opts.knownManifest);
    if (expected !== undefined && sha256 !== expected) {
      throw new HozironError(
        'archive_invalid',
        `${archivePath}: checksum mismatch: the archive's SHA-256 is ${sha256}, expected ${expected}`,
        'the archive was corrupted or altered after it was made; use another backup',
      );
    }
    const synced = opts.durable ? syncTree(destDir) : Promise.resolve();
    synced.catch(() => undefined); // awaited below, after the checks report
    for (const problem of await Promise.all(sink.checks)) {
      if (problem) throw new HozironError('integrity', `${archivePath}: ${problem}`);
    }
    await synced;
    if (manifest.audit_head && !manifest.files.some((f) => f.path === HOME_FILES.audit)) {
      throw new HozironError('archive_invalid', `${archivePath}: MANIFEST.json gives an audit head but the archive has no audit.db`);
    }
    sink.finishDirs();
    return { manifest, archiveSha256: sha256 };
  } catch (err) {
    sink.abort();
    await Promise.allSettled(sink.checks);
    await fs.rm(destDir, { recursive: true, force: true });
    throw err;
  }
}
