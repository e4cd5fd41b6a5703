/**
 * `runWorker`, the one way the backup engine runs a one-shot worker thread: notes arrive in
 * order before the answer, a thrown HozironError keeps its code, message and hint, and a
 * thread that ends without answering (or is cancelled, or whose file is missing) rejects with
 * an `internal` error after its cleanup ran. Stand-in workers load the compiled runner
 * (`dist/`), as the real workers do.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, importBuilt, tempDir } from '../support/cli.js';

type RunnerModule = typeof import('../../src/backup/worker-runner.js');
type ErrorsModule = typeof import('../../src/errors.js');

const { runWorker } = await importBuilt<RunnerModule>('src/backup/worker-runner.ts');
const { HozironError } = await importBuilt<ErrorsModule>('src/errors.ts');
const RUNNER = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'backup', 'worker-runner.js')).href;
const ERRORS = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'errors.js')).href;

describe('runWorker', () => {
  const dirs: { cleanup: () => void }[] = [];
  /** A worker file with `body` as its source. */
  const worker = (body: string): URL => {
    const t = tempDir();
    dirs.push(t);
    const path = join(t.dir, 'worker.mjs');
    writeFileSync(path, `import { serveWorker } from '${RUNNER}';\nimport { HozironError } from '${ERRORS}';\n${body}`);
    return pathToFileURL(path);
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  it('hands the worker its input, hears its notes in order, and resolves with its answer', async () => {
    const entry = worker(`await serveWorker((n, note) => { for (let i = 1; i <= n; i++) note(i); return n * 10; });`);
    const notes: number[] = [];
    const answer = await runWorker<number, number, number>(entry, 3, { stopped: 'counting stopped', onNote: (n) => notes.push(n) }).result;
    expect(notes).toEqual([1, 2, 3]);
    expect(answer).toBe(30);
  });

  it("re-creates the worker's HozironError with its code, message and hint, and runs no cleanup", async () => {
    const entry = worker(`await serveWorker(() => { throw new HozironError('usage', 'bad input', 'pass a number'); });`);
    let cleaned = false;
    const err = await runWorker(entry, null, { stopped: 'x stopped', cleanup: async () => void (cleaned = true) }).result.catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HozironError);
    expect(err).toMatchObject({ code: 'usage', message: 'bad input', hint: 'pass a number' });
    expect(cleaned, 'a worker that answered cleaned up after itself').toBe(false);
  });

  it('a thread that exits without answering rejects with an internal error, after its cleanup ran', async () => {
    const entry = worker(`process.exit(7);`);
    let cleaned = false;
    const err = await runWorker(entry, null, {
      stopped: 'the job stopped',
      hint: 'try again',
      cleanup: async () => void (cleaned = true),
    }).result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HozironError);
    expect(err).toMatchObject({ code: 'internal', message: 'the job stopped: its worker thread exited with code 7', hint: 'try again' });
    expect(cleaned).toBe(true);
  });

  it('a missing worker file fails loudly rather than running anything inline', async () => {
    const entry = pathToFileURL(join(REPO_ROOT, 'dist', 'no-such-worker.js'));
    expect(existsSync(entry)).toBe(false);
    const err = await runWorker(entry, null, { stopped: 'the job stopped' }).result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HozironError);
    expect(err).toMatchObject({ code: 'internal', message: expect.stringMatching(/^the job stopped: its worker thread failed: /) });
  });

  it('cancel terminates a busy worker and waits for its cleanup', async () => {
    const entry = worker(`await serveWorker(() => { for (;;); });`);
    let cleaned = false;
    const run = runWorker(entry, null, { stopped: 'the loop stopped', cleanup: async () => void (cleaned = true) });
    await run.cancel();
    expect(cleaned).toBe(true);
    await expect(run.result).rejects.toMatchObject({ code: 'internal', message: 'the loop stopped: its worker thread was cancelled' });
  });
});
