/**
 * The one way the backup engine starts a worker thread. A worker is always the compiled
 * `.js` file next to the module that starts it (in `dist/`); there is no inline fallback, so
 * a missing worker fails loudly instead of silently running on the caller's thread. Every
 * thread gets the same resource limits: each is a V8 isolate with its own young generation,
 * which V8 lets grow to tens of MiB before collecting; the workers' garbage is short-lived
 * rows and buffers, so a small young generation costs almost no time and keeps a restore
 * (main thread plus up to four workers) within its memory budget.
 *
 * A one-shot worker (`runWorker` on this side, `serveWorker` in the thread) is given its
 * input, may post notes (warnings, progress, partial results) and then posts one answer: a
 * result, or the error it threw, re-created here with the same code, message and hint. The
 * run settles only once the thread has exited, so a worker has stopped writing before
 * anything is cleaned up; a thread that ends without an answer (it crashed, exited or was
 * cancelled) rejects with an `internal` HozironError after the caller's `cleanup` ran.
 */
import { Worker, parentPort, workerData, type ResourceLimits } from 'node:worker_threads';
import { HozironError, type ErrorCode, type HozironErrorOptions } from '../errors.js';

const WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 6 };

/** An error as it crosses the thread boundary. */
type WorkerError =
  | { kind: 'hoziron'; code: ErrorCode; message: string; hint?: string; options: HozironErrorOptions; stack?: string }
  | {
      kind: 'other';
      name: string;
      message: string;
      stack?: string;
      errno?: { code?: string; errno?: number; syscall?: string; path?: string };
    };

/** What a one-shot worker posts: any number of notes, then exactly one result or error. */
type FromWorker<R, N> = { kind: 'note'; note: N } | { kind: 'result'; result: R } | { kind: 'error'; error: WorkerError };

function serializeError(err: unknown): WorkerError {
  if (err instanceof HozironError) {
    const options: HozironErrorOptions = { ...(err.remedy ? { remedy: err.remedy } : {}), details: err.details };
    return { kind: 'hoziron', code: err.code, message: err.message, hint: err.hint, options, stack: err.stack };
  }
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    return {
      kind: 'other',
      name: e.name,
      message: e.message,
      stack: e.stack,
      errno: { code: e.code, errno: e.errno, syscall: e.syscall, path: e.path },
    };
  }
  return { kind: 'other', name: 'Error', message: String(err) };
}

/** The error the worker threw, as the same kind of error on this thread. */
function reviveError(w: WorkerError): Error {
  let err: Error;
  if (w.kind === 'hoziron') {
    err = new HozironError(w.code, w.message, w.hint, w.options);
  } else {
    err = Object.assign(new Error(w.message), w.errno ?? {});
    err.name = w.name;
  }
  if (w.stack) err.stack = w.stack; // where it was thrown, for the daemon log
  return err;
}

/** Start the worker file `entry` with the engine's resource limits (for a worker that keeps its own protocol). */
export function startWorker(entry: URL, input: unknown): Worker {
  return new Worker(entry, { workerData: input, resourceLimits: WORKER_LIMITS });
}

export interface WorkerRunOptions<N> {
  /** Says what ended when the thread stops without an answer, e.g. "the backup stopped". */
  stopped: string;
  /** The hint of that error. */
  hint?: string;
  /** Hears each note, in the order the worker posted them. */
  onNote?: (note: N) => void;
  /** Removes what the thread left when it stopped without answering; runs after it has exited. */
  cleanup?: () => Promise<void>;
}

export interface WorkerRun<R> {
  /** The worker's answer, once its thread has exited. */
  readonly result: Promise<R>;
  /** Terminate the thread (unless it has answered) and wait for its cleanup. */
  cancel(): Promise<void>;
}

/** Run the one-shot worker `entry` on `input` (see the module header). */
export function runWorker<I, R, N = never>(entry: URL, input: I, opts: WorkerRunOptions<N>): WorkerRun<R> {
  const worker = startWorker(entry, input);
  let cancelled = false;
  const result = new Promise<R>((resolve, reject) => {
    let answer: { value: R } | { error: Error } | undefined;
    let crash: Error | undefined;
    worker.on('message', (m: FromWorker<R, N>) => {
      if (m.kind === 'note') return opts.onNote?.(m.note);
      answer = m.kind === 'result' ? { value: m.result } : { error: reviveError(m.error) };
      // The answer is the worker's last word: let it go rather than wait for it to wind down.
      void worker.terminate();
    });
    worker.on('error', (err) => (crash = err));
    worker.on('exit', (code) => {
      if (answer) return 'value' in answer ? resolve(answer.value) : reject(answer.error);
      const why = cancelled ? 'was cancelled' : crash ? `failed: ${crash.message}` : `exited with code ${code}`;
      const stopped = new HozironError('internal', `${opts.stopped}: its worker thread ${why}`, opts.hint, { cause: crash });
      (opts.cleanup?.() ?? Promise.resolve()).then(() => reject(stopped), reject);
    });
  });
  return {
    result,
    async cancel() {
      cancelled = true;
      await worker.terminate();
      await result.catch(() => undefined);
    },
  };
}

/**
 * The thread's side of `runWorker`: run `work` on the input and post its answer (or the error
 * it threw). `note` posts a note ahead of the answer.
 */
export async function serveWorker<I, R, N = never>(work: (input: I, note: (n: N) => void) => R | Promise<R>): Promise<void> {
  const port = parentPort!;
  const post = (m: FromWorker<R, N>) => port.postMessage(m);
  try {
    post({ kind: 'result', result: await work(workerData as I, (note) => post({ kind: 'note', note })) });
  } catch (err) {
    post({ kind: 'error', error: serializeError(err) });
  }
}
