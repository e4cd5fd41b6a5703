/**
 * Durability: fsync of a directory (so a rename or unlink inside it survives a crash), of a
 * file, and of a whole tree. Making a freshly written tree durable before it is swapped into the home. On Linux one
 * `syncfs(2)` (through `sync -f`) flushes every file and directory of the tree in a single
 * call, which the kernel batches far better than 20,000 separate fsyncs; elsewhere every file
 * and directory is fsynced, many at once through the thread pool.
 */
import { execFile } from 'node:child_process';
import { promises as fs, constants as fsc } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CONCURRENCY = 32;

/** fsync a directory so that a rename or unlink inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncPath(path: string | Buffer, isDir: boolean): Promise<void> {
  const handle = await fs.open(path, isDir ? fsc.O_RDONLY | fsc.O_DIRECTORY : fsc.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync one file (e.g. a database rewritten after the tree was synced). */
export async function fsyncFile(path: string): Promise<void> {
  await fsyncPath(path, false);
}

/** fsync every file and directory under `dir` (and `dir` itself), CONCURRENCY at a time. */
async function fsyncTree(dir: string): Promise<void> {
  const queue: [Buffer, boolean][] = [];
  // Buffer paths: a name that is not UTF-8 must be synced under its own bytes.
  const walk = async (d: Buffer): Promise<void> => {
    queue.push([d, true]);
    for (const e of await fs.readdir(d, { withFileTypes: true, encoding: 'buffer' })) {
      const child = Buffer.concat([d, Buffer.from('/'), e.name]);
      if (e.isDirectory()) await walk(child);
      else if (e.isFile()) queue.push([child, false]);
    }
  };
  await walk(Buffer.from(dir));
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const [p, isDir] = queue[next++]!;
      await fsyncPath(p, isDir);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/**
 * Delete a tree (the old state after a restore: tens of thousands of files). `rm -rf` does
 * it several times faster than `fs.rm`, which makes one thread-pool round trip per unlink.
 */
export async function removeTree(dir: string): Promise<void> {
  if (process.platform !== 'win32') {
    try {
      await run('rm', ['-rf', '--', dir]);
      return;
    } catch {
      // fall back below (and report a real failure from there)
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
}

/** Make everything under `dir` durable (see the module header for how). */
export async function syncTree(dir: string): Promise<void> {
  if (process.platform === 'linux') {
    try {
      await run('sync', ['-f', dir]);
      return;
    } catch {
      // No coreutils sync with -f: fall back to fsyncing each file.
    }
  }
  await fsyncTree(dir);
}
