/**
 * The soundness checks of a staged (or archived) database: `PRAGMA integrity_check`; for a
 * database at this program's schema version, that its schema is one this program can use
 * (a database at an older version is checked after its migration, restore.ts); and for
 * audit.db the hash chain up to the manifest's audit head. A large database is checked in a
 * worker thread (db-check-worker.ts), so the rest of the archive is still being extracted
 * meanwhile; a small one inline. The checks only read the file.
 */
import { existsSync, rmSync } from 'node:fs';
import { runWorker } from './worker-runner.js';
import { HOME_FILES } from '../home/layout.js';
import { AUDIT_SPEC, AuditLog, type AuditHead } from '../stores/audit.js';
import { KEYS_SPEC } from '../stores/keys.js';
import { MEMORY_SPEC } from '../stores/memory.js';
import { integrityCheck, openForCheck, schemaProblem, schemaVersion, type StoreSpec } from '../stores/sqlite.js';

/** The store behind each database of a home, by home-relative path. */
export const STORE_SPECS: Readonly<Record<string, StoreSpec>> = {
  [HOME_FILES.keys]: KEYS_SPEC,
  [HOME_FILES.audit]: AUDIT_SPEC,
  [HOME_FILES.memory]: MEMORY_SPEC,
};

export interface DbCheckJob {
  /** Absolute path of the database file to check. */
  path: string;
  /** Home-relative name, for messages. */
  rel: string;
  /** For audit.db: the head the chain must reach (null: the whole chain must verify). */
  auditHead?: AuditHead | null;
}

/** Check one database; resolves to the first problem, or null when it is sound. */
export function checkDatabase(job: DbCheckJob): string | null {
  // A read-only open of a WAL-mode file creates -wal/-shm beside it; remove the ones we made.
  const sideFiles = ['-wal', '-shm'].map((s) => `${job.path}${s}`).filter((p) => !existsSync(p));
  try {
    return runChecks(job);
  } finally {
    for (const p of sideFiles) rmSync(p, { force: true });
  }
}

function runChecks(job: DbCheckJob): string | null {
  const problems = integrityCheck(job.path);
  if (problems.length > 0) return `${job.rel} fails PRAGMA integrity_check: ${problems[0]}`;
  const spec = STORE_SPECS[job.rel];
  if (spec) {
    const db = openForCheck(job.path);
    try {
      const problem = schemaVersion(db) === spec.migrations.length ? schemaProblem(db, spec) : undefined;
      if (problem) return `${job.rel} ${problem}: this hoziron cannot use it`;
    } finally {
      db.close();
    }
  }
  if (job.auditHead !== undefined) {
    let report;
    try {
      report = AuditLog.verifyFile(job.path, job.auditHead ?? undefined);
    } catch (err) {
      return `${job.rel}: the audit chain cannot be read: ${(err as Error).message}`;
    }
    if (!report.ok) return `${job.rel}: the audit chain does not verify at event ${report.first_bad_seq}: ${report.reason}`;
  }
  return null;
}

const WORKER = new URL('./db-check-worker.js', import.meta.url);

/**
 * Below this size a database is checked inline: starting a worker (a fresh isolate loading
 * SQLite) costs more than checking a small file.
 */
const WORKER_THRESHOLD_BYTES = 32 * 1024 * 1024;

/** `checkDatabase` in a worker thread (inline for small files). */
export function checkDatabaseInWorker(job: DbCheckJob, sizeBytes = Infinity): Promise<string | null> {
  if (sizeBytes < WORKER_THRESHOLD_BYTES) {
    return new Promise((resolve) => setImmediate(() => resolve(checkDatabase(job))));
  }
  return runWorker<DbCheckJob, string | null>(WORKER, job, { stopped: `the check of ${job.rel} stopped` }).result;
}
