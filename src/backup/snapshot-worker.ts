/**
 * Worker thread of `snapshot.ts`: takes `VACUUM INTO` snapshots of the databases it is
 * given, one after another, and posts one note per database (its answer says only that it
 * is done). Running here keeps the main thread free to archive the plain files while SQLite
 * copies pages.
 */
import Database from 'better-sqlite3';
import type { SnapshotJob, SnapshotMessage } from './snapshot.js';
import { serveWorker } from './worker-runner.js';

function snapshot(job: SnapshotJob): SnapshotMessage {
  const started = performance.now();
  try {
    const db = new Database(job.src, { fileMustExist: true });
    try {
      // A writer holding the lock only delays us; VACUUM INTO reads one consistent
      // snapshot (a read transaction) and is never restarted by concurrent commits.
      db.pragma('busy_timeout = 30000');
      // The output is a private temporary file read once and deleted: no fsync needed.
      db.pragma('synchronous = OFF');
      // A small page cache: every page is read once, so a big one only costs memory.
      db.pragma('cache_size = -1024');
      db.prepare('VACUUM INTO ?').run(job.dest);
    } finally {
      db.close();
    }
    let auditHead: SnapshotMessage['auditHead'] = null;
    if (job.readAuditHead) {
      const snap = new Database(job.dest, { readonly: true, fileMustExist: true });
      try {
        auditHead =
          (snap.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined) ??
          null;
      } finally {
        snap.close();
      }
    }
    return { rel: job.rel, ok: true, auditHead, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { rel: job.rel, ok: false, error: (err as Error).message };
  }
}

void serveWorker<SnapshotJob[], void, SnapshotMessage>((jobs, note) => {
  for (const job of jobs) note(snapshot(job));
});
