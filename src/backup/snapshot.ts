/**
 * Consistent SQLite snapshots for archiving. Each database is copied with `VACUUM INTO`
 * into a temporary file of ours (`.hoziron-tmp-<pid>-<hex>.db`) in the storage directory:
 * it reads one read transaction, so it sees every transaction committed before it started
 * (including ones still only in another process's `-wal`), is never restarted by writers
 * that keep committing (the online backup API restarts on every foreign write), and its
 * output is one self-contained, compacted file with no `-wal` to forget.
 *
 * The snapshots run in a worker thread, in order, while the caller archives the plain
 * files. Crash safety: only temporary files are written; a killed process leaves them to
 * `removeLeftovers`. `cancel` terminates the worker and removes what it wrote.
 */
import { promises as fs } from 'node:fs';
import { runWorker, type WorkerRun } from './worker-runner.js';
import { dirname } from 'node:path';
import { HozironError } from '../errors.js';
import type { AuditHead } from '../stores/audit.js';
import { tempPathIn } from '../fsutil/temp.js';

export interface SnapshotJob {
  /** Home-relative path, e.g. "data/hoziron.db". */
  rel: string;
  src: string;
  dest: string;
  readAuditHead: boolean;
}

export interface SnapshotMessage {
  rel: string;
  ok: boolean;
  error?: string;
  auditHead?: AuditHead | null;
  /** How long the snapshot took in the worker, milliseconds. */
  ms?: number;
}

export interface DatabaseSnapshot {
  rel: string;
  /** The snapshot file (temporary; the caller removes it with `release`). */
  path: string;
  auditHead: AuditHead | null;
}

/**
 * A failed snapshot: a full disk where the copy is written is not a problem of the database
 * (SQLite says "database or disk is full"), so it names that directory and asks for space.
 */
function snapshotError(rel: string, error: string, dest: string): HozironError {
  if (/disk is full|SQLITE_FULL|ENOSPC|no space left/i.test(error)) {
    const dir = dirname(dest);
    return new HozironError(
      'no_space',
      `cannot snapshot ${rel} into ${dir}: no space left on the device`,
      'free some space there and try again',
      {
        remedy: 'free_space',
        details: { path: dir },
      },
    );
  }
  return new HozironError('io', `cannot snapshot ${rel}: ${error}`, 'check the database', { remedy: 'check_home' });
}

const SNAPSHOT_WORKER = new URL('./snapshot-worker.js', import.meta.url);

export class SnapshotRunner {
  private readonly run: WorkerRun<void>;
  private readonly results = new Map<string, Promise<DatabaseSnapshot>>();
  private readonly jobs: SnapshotJob[];
  private readonly settled = new Set<string>();
  /** Milliseconds the worker spent on snapshots so far. */
  workMs = 0;

  private constructor(jobs: SnapshotJob[]) {
    this.jobs = jobs;
    const settle = new Map<string, { resolve: (s: DatabaseSnapshot) => void; reject: (e: Error) => void }>();
    for (const job of jobs) {
      const p = new Promise<DatabaseSnapshot>((resolve, reject) => settle.set(job.rel, { resolve, reject }));
      p.catch(() => undefined); // awaited later, in archive order
      this.results.set(job.rel, p);
    }
    const onSnapshot = (m: SnapshotMessage) => {
      const s = settle.get(m.rel)!;
      settle.delete(m.rel);
      this.settled.add(m.rel);
      this.workMs += m.ms ?? 0;
      if (m.ok) s.resolve({ rel: m.rel, path: jobs.find((j) => j.rel === m.rel)!.dest, auditHead: m.auditHead ?? null });
      else s.reject(snapshotError(m.rel, m.error ?? 'unknown error', jobs.find((j) => j.rel === m.rel)!.dest));
    };
    const failAll = (err: Error) => {
      for (const [rel, s] of settle) s.reject(new HozironError('internal', `snapshot of ${rel} failed: ${err.message}`));
      settle.clear();
    };
    this.run = runWorker<SnapshotJob[], void, SnapshotMessage>(SNAPSHOT_WORKER, jobs, {
      stopped: 'snapshotting stopped',
      onNote: onSnapshot,
    });
    // The answer comes after a note for every job, so only a thread that died leaves any waiting.
    void this.run.result.then(() => failAll(new Error('the snapshot worker stopped')), failAll);
  }

  /** Start snapshotting `dbs` (home-relative path → absolute source) into `tempDir`. */
  static start(dbs: { rel: string; src: string; auditHead: boolean }[], tempDir: string): SnapshotRunner {
    return new SnapshotRunner(dbs.map((d) => ({ rel: d.rel, src: d.src, dest: tempPathIn(tempDir, 'db'), readAuditHead: d.auditHead })));
  }

  /** True once the snapshot of `rel` is finished (or failed): `get` will not wait. */
  ready(rel: string): boolean {
    return this.settled.has(rel);
  }

  /** Wait for the snapshot of `rel`. */
  get(rel: string): Promise<DatabaseSnapshot> {
    const p = this.results.get(rel);
    if (!p) throw new HozironError('internal', `no snapshot was started for ${rel}`);
    return p;
  }

  /** Remove one snapshot file once it has been archived. */
  async release(rel: string): Promise<void> {
    const job = this.jobs.find((j) => j.rel === rel);
    if (job) await removeSnapshotFiles(job.dest);
  }

  /** Stop the worker and remove every snapshot file. */
  async cancel(): Promise<void> {
    await this.run.cancel();
    for (const job of this.jobs) await removeSnapshotFiles(job.dest);
  }
}

async function removeSnapshotFiles(path: string): Promise<void> {
  for (const suffix of ['', '-journal', '-wal', '-shm']) await fs.rm(`${path}${suffix}`, { force: true });
}
