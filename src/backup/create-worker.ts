/**
 * Worker-thread entry of `createBackupInWorker`: runs `createBackup` on the job it is given
 * (the caller holds the backup lock) and posts warnings, progress and the outcome back. It
 * writes only what `createBackup` writes; create-in-worker.ts removes what a dead worker
 * left.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HomeLayout } from '../home/layout.js';
import { serializeError, type CreateWorkerJob, type CreateWorkerMessage } from './create-in-worker.js';
import { createBackup } from './create.js';

/** At most this often a progress message: every file would be tens of thousands of messages. */
const PROGRESS_INTERVAL_MS = 100;

const job = workerData as CreateWorkerJob;
const post = (m: CreateWorkerMessage) => parentPort!.postMessage(m);
let lastProgress = 0;
const onProgress = (done: number, total: number) => {
  const now = Date.now();
  if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
  lastProgress = now;
  post({ type: 'progress', done, total });
};

try {
  const record = await createBackup(new HomeLayout(job.homeRoot), job.cfg, {
    ...job.opts,
    onWarning: (message) => post({ type: 'warning', message }),
    onPruned: (entry) => post({ type: 'pruned', entry }),
    ...(job.progress ? { onProgress } : {}),
  });
  post({ type: 'done', record });
} catch (err) {
  post({ type: 'failed', error: serializeError(err) });
}
