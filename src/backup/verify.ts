/**
 * `verifyBackup`: prove that an archive is sound and that a restore would accept it, without
 * unpacking it. The archive streams once through the strict reader (every entry against
 * the manifest, the whole-file SHA-256), and a restore's own checks (restorable.ts) run on
 * the stream: the manifest's versions and the items its scope requires, the archived
 * config.toml (held in memory, at most 1 MiB), and each database, which alone is written out
 * because `PRAGMA integrity_check` needs a file: `integrity_check`, the audit chain up to the
 * manifest's head, a schema this program can use (an older one is migrated on verify's own
 * copy, exactly as a restore migrates its staged one). Nothing is written to the storage
 * directory but the summary's `last_verified_at` (skipped, with a warning, when it cannot
 * be written), so verify works on a full or read-only storage.
 *
 * The databases go to a work area in the home (`.restore/<id>/`, on the home's filesystem,
 * with an owner record as a restore's has): at most the archive's three databases, each
 * deleted as soon as it is checked. They are written by plain write streams (the thread
 * pool), not a staging worker: a worker thread is a whole V8 isolate, and verify's memory
 * must stay small for any archive. Crash safety: the home's state and the archive are
 * only read; a killed verify leaves its work area, which the next command's recovery
 * deletes once its owner is judged stale. Verify takes no lock: it changes no archive, and
 * a long verify must not block scheduled backups.
 *
 * An encrypted archive (`….tar.gz.age`) is streamed through the age decrypter with the
 * configured identity (the checksum is of the encrypted file) and then checked exactly as
 * above. Without an identity, verify-sealed.ts checks what can be checked without the key.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, promises as fs, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { readArchive, type EntrySink } from '../archive/reader.js';
import type { Manifest, ManifestFile } from '../archive/manifest.js';
import { HozironError, withIoContext } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import { DATABASES, HOME_FILES, type HomeLayout } from '../home/layout.js';
import { isAgeName } from '../crypto/age.js';
import type { Identity } from '../crypto/keys.js';
import { loadIdentities } from './archive-keys.js';
import { findCatalogEntry, isInStorage } from './catalog.js';
import { checkDatabaseInWorker } from './db-check.js';
import { claimWorkArea, removeWorkArea, tidyRestoreDir } from './journal.js';
import { checkArchivedConfig, checkDatabaseSchema, checkManifestRestorable } from './restorable.js';
import { expectedChecksum, summarizeManifest, summarySidecar, writeSummary } from './sidecars.js';
import { verifySealedArchive } from './verify-sealed.js';
import type { VerifyReport } from '../api/types.js';

export interface VerifyOptions {
  /** `sha256:<hex>` the operator vouches for; else the `.sha256` sidecar, if any. */
  checksum?: string;
  onProgress?: (done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

const isDatabase = (rel: string) => (DATABASES as readonly string[]).includes(rel);

/** Bytes of one database queued for writing before the reader is made to wait. */
const WRITE_QUEUE_BYTES = 4 * 1024 * 1024;

/**
 * One database written to verify's work area, with back-pressure: `write` returns a promise
 * while the queue is full. Created O_EXCL in a directory verify made, so nothing there is
 * followed or overwritten.
 */
class DatabaseFile {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(
    private readonly path: string,
    private readonly rel: string,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.stream = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_QUEUE_BYTES });
    this.stream.on('error', (err) => (this.failure ??= err));
  }

  private check(): void {
    if (this.failure) throw new HozironError('io', `cannot write ${this.rel} into ${dirname(this.path)}: ${this.failure.message}`);
  }

  write(chunk: Buffer): void | Promise<void> {
    this.check();
    if (this.stream.write(chunk)) return;
    return new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('error', done);
    }).then(() => this.check());
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.stream.closed) return resolve();
      this.stream.end();
      this.stream.once('close', () => resolve());
    }).then(() => this.check());
  }

  /** After a failure: close without waiting for queued bytes. */
  stop(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.stream.closed) return resolve();
      this.stream.once('close', () => resolve());
      this.stream.destroy();
    });
  }
}

/** Runs a restore's checks on the entries as they stream by (see the module header). */
class VerifySink implements EntrySink {
  private m: Manifest | undefined;
  private db: DatabaseFile | undefined;
  private current: 'database' | 'config' | undefined;
  private config: Buffer[] = [];
  readonly checks: Promise<void>[] = [];

  constructor(
    private readonly home: HomeLayout,
    private readonly archivePath: string,
    private readonly dbDir: string,
    private readonly warnings: string[],
  ) {}

  manifest(m: Manifest): void {
    checkManifestRestorable(m, this.archivePath, this.warnings);
    this.m = m;
  }

  directory(): void {}

  openFile(file: ManifestFile): void {
    this.current = isDatabase(file.path) ? 'database' : file.path === HOME_FILES.config ? 'config' : undefined;
    if (this.current === 'database') this.db = new DatabaseFile(join(this.dbDir, file.path), file.path);
  }

  data(chunk: Buffer): void | Promise<void> {
    if (this.current === 'database') return this.db!.write(chunk);
    if (this.current === 'config') this.config.push(Buffer.from(chunk));
  }

  closeFile(file: ManifestFile): void {
    if (this.current === 'database') {
      const written = this.db!.close();
      this.db = undefined;
      this.startCheck(file.path, written);
    } else if (this.current === 'config') {
      const text = Buffer.concat(this.config);
      this.config = [];
      checkArchivedConfig(text, this.archivePath, this.home);
    }
    this.current = undefined;
  }

  /** A database is written: check it, then delete it, so at most a few are ever on disk. */
  private startCheck(rel: string, written: Promise<void>): void {
    const path = join(this.dbDir, rel);
    const auditHead = rel === HOME_FILES.audit ? this.m!.audit_head : undefined;
    const check = written
      .then(() => checkDatabaseInWorker({ path, rel, auditHead }, this.m!.files.get(rel)?.size))
      .then((problem) => {
        if (problem) throw new HozironError('integrity', `${this.archivePath}: ${problem}`);
        // As a restore does: an older schema is migrated (this copy is verify's own) and must then be usable.
        checkDatabaseSchema(path, rel, this.archivePath);
      })
      .finally(() => Promise.all(['', '-wal', '-shm'].map((suffix) => fs.rm(`${path}${suffix}`, { force: true }))));
    check.catch(() => undefined); // awaited in verifyStream
    this.checks.push(check);
  }

  async finish(): Promise<void> {
    await Promise.all(this.checks);
  }

  async stop(): Promise<void> {
    await this.db?.stop();
    await Promise.allSettled(this.checks);
  }
}

/** Stream the archive through the sink; the work area is removed whatever happens. */
async function verifyStream(
  home: HomeLayout,
  path: string,
  warnings: string[],
  onProgress: VerifyOptions['onProgress'],
  identities: readonly Identity[] | undefined,
): Promise<{ manifest: Manifest; sha256: string }> {
  const id = randomUUID();
  await claimWorkArea(home, id);
  const dbDir = join(home.restoreWorkDir(id), 'databases');
  const sink = new VerifySink(home, path, dbDir, warnings);
  try {
    await fs.mkdir(dbDir, { mode: 0o700 });
    const total = onProgress ? (await fs.stat(path)).size : 0;
    const result = await readArchive(path, sink, onProgress ? (n) => onProgress(n, total) : undefined, undefined, identities);
    await sink.finish();
    return result;
  } catch (err) {
    await sink.stop();
    throw err;
  } finally {
    await removeWorkArea(home, id);
    await tidyRestoreDir(home);
  }
}

/** Record `last_verified_at` in the summary; a storage that cannot be written only warns. */
async function recordVerified(
  cfg: LoadedConfig,
  path: string,
  before: { size: number; mtimeMs: number },
  r: Recorded,
): Promise<string | undefined> {
  const hasSummary = await fs.stat(summarySidecar(path)).then(
    () => true,
    () => false,
  );
  if (!isInStorage(cfg, path) && !hasSummary) return undefined;
  try {
    await writeSummary(path, {
      summary_format: 1,
      archive: { size: before.size, mtime_ms: before.mtimeMs },
      kind: r.kind,
      checksum: `sha256:${r.sha256}`,
      manifest: summarizeManifest(r.manifest),
      last_verified_at: r.at,
      ...(r.durationMs !== undefined ? { duration_ms: r.durationMs } : {}),
    });
    return undefined;
  } catch (err) {
    return `could not record the verification in ${summarySidecar(path)}: ${(err as Error).message}`;
  }
}

interface Recorded {
  kind: 'regular' | 'pre-restore';
  sha256: string;
  manifest: Manifest;
  at: string;
  /** The create's wall time, kept from the summary (the console charts it). */
  durationMs: number | undefined;
}

export async function verifyBackup(home: HomeLayout, cfg: LoadedConfig, idOrFile: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const entry = await findCatalogEntry(cfg, idOrFile);
  const path = entry.record.path;
  const expected = await expectedChecksum(path, opts.checksum);
  const encrypted = isAgeName(path);
  const identities = encrypted ? await loadIdentities(cfg, opts.onWarning) : undefined;
  if (encrypted && !identities) return verifySealedArchive(entry, expected);
  const before = await fs.stat(path);
  const warnings: string[] = [];
  const { manifest, sha256 } = await withIoContext(home.restoreDir, () => verifyStream(home, path, warnings, opts.onProgress, identities));
  if (expected.sha256 !== undefined && sha256 !== expected.sha256) {
    throw new HozironError(
      'archive_invalid',
      `${path}: checksum mismatch: the archive's SHA-256 is ${sha256}, expected ${expected.sha256} (from ${expected.source === 'operator' ? 'the checksum given' : `${path}.sha256`})`,
      'the archive was corrupted or altered after it was made; use another backup',
    );
  }
  const verifiedAt = new Date().toISOString();
  const unrecorded = await recordVerified(cfg, path, before, {
    kind: entry.summary.kind,
    sha256,
    manifest,
    at: verifiedAt,
    durationMs: entry.summary.duration_ms,
  });
  if (unrecorded) warnings.push(unrecorded);
  return {
    ok: true,
    id: manifest.id,
    path,
    checksum: `sha256:${sha256}`,
    checksum_verified: expected.source !== 'none',
    checksum_source: expected.source,
    scope: entry.record.scope,
    files: manifest.files.length,
    dirs: manifest.dirs.length,
    unpacked_bytes: manifest.files.totalSize(),
    databases_checked: DATABASES.filter((rel) => manifest.files.get(rel) !== undefined),
    audit_head: manifest.audit_head,
    verified_at: verifiedAt,
    warnings,
    ...(encrypted ? { encrypted } : {}),
  };
}
