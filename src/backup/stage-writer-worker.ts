/**
 * Worker-thread entry of `StageWriter`: applies each batch of operations to a `StagedTree`
 * in order and transfers the batch buffer back. After the first failure it reports the entry
 * and ignores further batches; `abort` closes any open file and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { StagedTree, type FromWorker, type ToWorker } from './stage-writer.js';

const tree = new StagedTree(workerData as string);
const port = parentPort!;
let failed = false;

port.on('message', (m: ToWorker) => {
  if ('abort' in m) {
    tree.abort();
    process.exit(0);
  }
  if (failed) return;
  try {
    const closed = tree.apply(m.ops, m.buf ? Buffer.from(m.buf) : null);
    port.postMessage({ buf: m.buf, closed } satisfies FromWorker, m.buf ? [m.buf] : []);
  } catch (err) {
    failed = true;
    tree.abort();
    port.postMessage({ error: (err as Error).message, rel: tree.current } satisfies FromWorker);
  }
});
