/**
 * Reading one plain file of the home for the archive, consistently. A file up to
 * `WHOLE_READ_LIMIT` is read whole into memory between two fstat calls and re-read (up to
 * `TORN_RETRIES` times) if its size, mtime or ctime moved, so its entry is one version of
 * the file; a larger file is streamed and, if it changed while read, archived with a warning
 * naming it. Either way an entry's bytes are exactly the bytes hashed for its manifest line.
 *
 * Small files are read with synchronous calls on purpose: each takes microseconds, while
 * the promise API costs a thread-pool round trip per call, and the pool is busy with
 * compression; for 20,000 small files that queueing, not the disk, was the cost.
 */
import { closeSync, fstatSync, openSync, readSync, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ManifestFile } from '../archive/manifest.js';
import type { ArchiveWriter } from '../archive/writer.js';
import { decodeName, displayName } from '../archive/entry-name.js';
import { HozironError, errnoCode } from '../errors.js';
import type { CollectedFile } from './collect.js';

/** Files up to this size are read whole, between two fstat calls, and re-read if torn. */
const WHOLE_READ_LIMIT = 4 * 1024 * 1024;
const TORN_RETRIES = 3;

/** A path for messages: a Buffer path (a name that is not UTF-8) with its raw bytes as `\xNN`. */
const shown = (abs: string | Buffer) => displayName(typeof abs === 'string' ? abs : decodeName(abs));

const sameVersion = (a: Stats, b: Stats) => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

type WholeRead = { kind: 'gone' } | { kind: 'large' } | { kind: 'read'; data: Buffer; before: Stats; stable: boolean };

function readWholeSync(abs: string | Buffer): WholeRead {
  let fd: number;
  try {
    fd = openSync(abs, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'gone' };
    throw new HozironError('io', `cannot read ${shown(abs)}: ${(err as Error).message}`);
  }
  try {
    const before = fstatSync(fd);
    if (before.size > WHOLE_READ_LIMIT) return { kind: 'large' };
    // One byte more than the size: a file that grew is noticed even if fstat lags.
    const buf = Buffer.allocUnsafe(before.size + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    const stable = n === before.size && sameVersion(before, fstatSync(fd));
    return { kind: 'read', data: buf.subarray(0, Math.min(n, before.size)), before, stable };
  } finally {
    closeSync(fd);
  }
}

/**
 * Up to `size` bytes of an open file, 1 MiB at a time in one buffer refilled for each piece:
 * the writer hashes and copies every piece before it asks for the next, and a fresh MiB per
 * piece would only be garbage for the collector (and resident memory until it runs).
 */
export async function* readChunks(fh: FileHandle, size: number): AsyncGenerator<Buffer> {
  let position = 0;
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, size));
  while (position < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - position), position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
}

async function streamLargeFile(
  writer: ArchiveWriter,
  file: CollectedFile,
  warn: (m: string) => void,
  onBytes: (n: number) => void,
): Promise<ManifestFile | undefined> {
  let fh: FileHandle;
  try {
    fh = await fs.open(file.abs, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new HozironError('io', `cannot read ${shown(file.abs)}: ${(err as Error).message}`);
  }
  try {
    const before = await fh.stat();
    const entry = await writer.addStream(
      file.rel,
      before.size,
      { mode: before.mode, mtime: before.mtime },
      readChunks(fh, before.size),
      onBytes,
    );
    if (!sameVersion(before, await fh.stat())) {
      warn(`${displayName(file.rel)} changed while it was archived; its entry matches its manifest line but may mix old and new content`);
    }
    return entry;
  } finally {
    await fh.close();
  }
}

/** Archive one plain file; returns its manifest line, or undefined if it vanished. */
export async function archiveFile(
  writer: ArchiveWriter,
  file: CollectedFile,
  warn: (m: string) => void,
  onBytes: (n: number) => void,
): Promise<ManifestFile | undefined> {
  for (let attempt = 1; ; attempt++) {
    const r = file.size > WHOLE_READ_LIMIT ? ({ kind: 'large' } as const) : readWholeSync(file.abs);
    if (r.kind === 'large') {
      const entry = await streamLargeFile(writer, file, warn, onBytes);
      if (!entry) warn(`${displayName(file.rel)} disappeared while the backup ran; not archived`);
      return entry;
    }
    if (r.kind === 'gone') {
      warn(`${displayName(file.rel)} disappeared while the backup ran; not archived`);
      return undefined;
    }
    if (r.stable || attempt > TORN_RETRIES) {
      if (!r.stable) warn(`${displayName(file.rel)} kept changing while it was read; archived the last version read`);
      onBytes(r.data.length);
      return writer.addBuffer(file.rel, r.data, { mode: r.before.mode, mtime: r.before.mtime });
    }
  }
}
