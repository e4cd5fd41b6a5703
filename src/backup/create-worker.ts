/**
 * Worker-thread entry of `createBackupInWorker`: runs `createBackup` on the job it is given
 * (the caller holds the backup lock), notes warnings and progress and answers with the
 * record or the error. It writes only what `createBackup` writes; create-in-worker.ts
 * removes what a dead worker left.
 */
import type { BackupRecord } from '../api/types.js';
import { HomeLayout } from '../home/layout.js';
import type { CreateWorkerJob, CreateWorkerNote } from './create-in-worker.js';
import { createBackup } from './create.js';
import { serveWorker } from './worker-runner.js';

/** At most this often a progress message: every file would be tens of thousands of messages. */
const PROGRESS_INTERVAL_MS = 100;

void serveWorker<CreateWorkerJob, BackupRecord, CreateWorkerNote>((job, note) => {
  let lastProgress = 0;
  const onProgress = (done: number, total: number) => {
    const now = Date.now();
    if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
    lastProgress = now;
    note({ type: 'progress', done, total });
  };
  return createBackup(new HomeLayout(job.homeRoot), job.cfg, {
    ...job.opts,
    onWarning: (message) => note({ type: 'warning', message }),
    onPruned: (entry) => note({ type: 'pruned', entry }),
    ...(job.progress ? { onProgress } : {}),
  });
});
