/**
 * Writing a staged tree off the main thread. Extraction has three costs of similar size:
 * gunzip (thread pool), parsing and hashing (main thread), and the file-system calls that
 * create ~20,000 files (kernel time). Done on one thread, those calls stall the other two;
 * here they run in a worker thread, so all three overlap, which is what `tar -xzf` gets from
 * running gzip and tar as two processes.
 *
 * `StageWriter` (main thread) copies entry bodies into a few fixed 1 MiB batch buffers and
 * transfers each full batch, with its list of operations (make a directory, open, write,
 * close), to the worker, which performs them in order with `StagedTree` and transfers the
 * buffer back. At most `BATCHES` buffers exist, so memory is bounded and a slow disk slows
 * the reader (the sink's `data` returns a promise while no buffer is free).
 *
 * `StagedTree` does the writing and holds the safety rules: directories are created one by
 * one with a plain (non-recursive) mkdir, so nothing already there, such as a symlink, is
 * ever followed; files are opened O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600 and given their
 * manifest mode & 0o777 when closed (set-uid, set-gid and sticky bits never restored).
 * A name that is not UTF-8 reaches the file system as its exact bytes (`fsPath`).
 * Crash safety: only files below the fresh staging directory are written; a process killed
 * here leaves a partial staging directory that callers treat as garbage.
 */
import { closeSync, constants as fsc, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { displayName, fsPath } from '../archive/entry-name.js';
import { startWorker } from './worker-runner.js';
import { HozironError } from '../errors.js';

export type StageOp =
  | { t: 'dir'; rel: string }
  | { t: 'open'; rel: string }
  | { t: 'write'; off: number; len: number }
  | { t: 'close'; rel: string; mode: number; report: boolean };

export type ToWorker = { ops: StageOp[]; buf: ArrayBuffer | null } | { abort: true };
export type FromWorker = { buf: ArrayBuffer | null; closed: string[] } | { error: string; rel: string };

const FILE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** The file-system side: every path below `dest`, through directories it made itself. */
export class StagedTree {
  private readonly made = new Set<string>(['']);
  private fd: number | undefined;
  /** The entry being written, for error messages. */
  current = '';

  constructor(private readonly dest: string) {}

  mkdirs(rel: string): void {
    if (this.made.has(rel)) return;
    const cut = rel.lastIndexOf('/');
    if (cut > 0) this.mkdirs(rel.slice(0, cut));
    // mkdir (not recursive) fails on anything already there: no symlink can be followed.
    mkdirSync(fsPath(this.dest, rel), 0o700);
    this.made.add(rel);
  }

  open(rel: string): void {
    this.current = rel;
    const cut = rel.lastIndexOf('/');
    if (cut > 0) this.mkdirs(rel.slice(0, cut));
    this.fd = openSync(fsPath(this.dest, rel), FILE_FLAGS, 0o600);
  }

  write(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd!, buf, off, buf.length - off);
  }

  close(mode: number): void {
    fchmodSync(this.fd!, mode & 0o777);
    closeSync(this.fd!);
    this.fd = undefined;
  }

  /** Close whatever is open (after a failure). */
  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Perform one batch; returns the files closed with `report` set. */
  apply(ops: StageOp[], buf: Buffer | null): string[] {
    const closed: string[] = [];
    for (const op of ops) {
      switch (op.t) {
        case 'dir':
          this.current = op.rel;
          this.mkdirs(op.rel);
          break;
        case 'open':
          this.open(op.rel);
          break;
        case 'write':
          this.write(buf!.subarray(op.off, op.off + op.len));
          break;
        case 'close':
          this.close(op.mode);
          if (op.report) closed.push(op.rel);
          break;
      }
    }
    return closed;
  }
}

const WORKER = new URL('./stage-writer-worker.js', import.meta.url);
const BATCH_BYTES = 1024 * 1024;
const BATCHES = 8;
/** A batch is sent when its buffer is full or it holds this many operations. */
const MAX_OPS = 2048;

/** The main-thread side: queues operations for the worker, with bounded memory. */
export class StageWriter {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private buf: Buffer | undefined;
  private used = 0;
  private ops: StageOp[] = [];
  private inflight = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private exited = false;

  /** `onClosed` hears of each file closed with `report` set, once it is written and closed. */
  constructor(
    dest: string,
    private readonly onClosed: (rel: string) => void,
  ) {
    for (let i = 0; i < BATCHES; i++) this.free.push(new ArrayBuffer(BATCH_BYTES));
    this.worker = startWorker(WORKER, dest);
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(new HozironError('io', `the staging writer failed: ${err.message}`)));
    this.worker.on('exit', () => {
      this.exited = true;
      this.fail(new HozironError('io', 'the staging writer stopped unexpectedly'));
    });
  }

  private onMessage(m: FromWorker): void {
    if ('error' in m) {
      this.fail(new HozironError('io', `cannot write ${displayName(m.rel)} into the staging directory: ${m.error}`));
      return;
    }
    this.inflight--;
    if (m.buf) this.free.push(m.buf);
    for (const rel of m.closed) this.onClosed(rel);
    this.notify();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** Resolves at the next reply from the worker (or failure). */
  private nextReply(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private flush(): void {
    if (this.ops.length === 0) return;
    const buf = this.buf ? (this.buf.buffer as ArrayBuffer) : null;
    const msg: ToWorker = { ops: this.ops, buf };
    this.worker.postMessage(msg, buf ? [buf] : []);
    this.buf = undefined;
    this.used = 0;
    this.ops = [];
    this.inflight++;
  }

  private push(op: StageOp): void {
    this.check();
    this.ops.push(op);
    if (this.ops.length >= MAX_OPS) this.flush();
  }

  directory(rel: string): void {
    this.push({ t: 'dir', rel });
  }

  open(rel: string): void {
    this.push({ t: 'open', rel });
  }

  /** Queue a file's bytes; returns a promise only when it must wait for a free buffer. */
  data(chunk: Buffer): void | Promise<void> {
    this.check();
    let off = 0;
    while (off < chunk.length) {
      if (!this.buf) {
        const free = this.free.pop();
        if (!free) {
          const rest = chunk.subarray(off);
          return this.nextReply().then(() => this.data(rest));
        }
        this.buf = Buffer.from(free);
        this.used = 0;
      }
      const n = Math.min(this.buf.length - this.used, chunk.length - off);
      chunk.copy(this.buf, this.used, off, off + n);
      const last = this.ops[this.ops.length - 1];
      if (last?.t === 'write' && last.off + last.len === this.used) last.len += n;
      else this.ops.push({ t: 'write', off: this.used, len: n });
      this.used += n;
      off += n;
      if (this.used === this.buf.length) this.flush();
    }
  }

  /** Queue the close; with `report`, the batch goes at once so `onClosed` is heard soon. */
  close(rel: string, mode: number, report: boolean): void {
    this.push({ t: 'close', rel, mode, report });
    if (report) this.flush();
  }

  /** Send what is queued and wait until the worker has written all of it. */
  async finish(): Promise<void> {
    this.check();
    this.flush();
    while (this.inflight > 0) {
      this.check();
      await this.nextReply();
    }
    this.check();
    await this.stop();
  }

  /** Stop the worker, closing any file it has open (after a failure; safe to call twice). */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.exited = true;
    this.worker.removeAllListeners('exit');
    const done = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ abort: true } satisfies ToWorker);
    await done;
  }
}
