import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { backgroundPriorityWhile } from '../../src/daemon/thread-priority.js';

/** A worker thread that reports its own nice value after `afterMs` (getPriority(0) is the calling thread on Linux). */
function workerNice(afterMs: number): Promise<number> {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads'); const { getPriority } = require('node:os');
     setTimeout(() => parentPort.postMessage(getPriority(0)), ${afterMs});`,
    { eval: true },
  );
  return new Promise((resolve, reject) => {
    w.once('message', (n: number) => {
      void w.terminate();
      resolve(n);
    });
    w.once('error', reject);
  });
}

describe('background thread priority during a backup', () => {
  it('lowers the priority of threads started while a backup runs, and never the main thread', async () => {
    const mainBefore = getPriority(0);
    const stop = backgroundPriorityWhile();
    try {
      // A worker started after the backup began (as the create worker is) is caught by the polling.
      expect(await workerNice(500)).toBeGreaterThanOrEqual(10);
      expect(getPriority(0)).toBe(mainBefore);
      expect(getPriority(process.pid)).toBe(mainBefore);
    } finally {
      stop();
    }
  });
});
