/**
 * Atomic, durable file writes. A file is written to a temporary name beside its target,
 * fsynced, renamed over the target and the directory fsynced, so after a crash at any line
 * the target holds either its old bytes or its new bytes, never a mix. A leftover temporary
 * file (`temp.ts`) is harmless and never read.
 */
import { promises as fs } from 'node:fs';
import { fsyncDir } from './durable.js';
import { dirname } from 'node:path';
import { tempNameFor } from './temp.js';

export interface WriteOptions {
  /** File mode of the new file (default 0o644). */
  mode?: number;
  /** Refuse to replace an existing file (O_EXCL semantics on the final name via link). */
  exclusive?: boolean;
}

/** Write `data` to `target` atomically and durably. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  const tmp = tempNameFor(target);
  const handle = await fs.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    // open() applies the umask; chmod makes the mode exactly what was asked.
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    if (options.exclusive) {
      // link() fails if the target exists, so an existing file is never replaced.
      await fs.link(tmp, target);
      await fs.unlink(tmp);
    } else {
      await fs.rename(tmp, target);
    }
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(target));
}

/** Create a directory (and parents) and set its mode exactly; fsync the parent. */
export async function ensureDir(dir: string, mode = 0o755): Promise<boolean> {
  let created = false;
  try {
    await fs.mkdir(dir, { mode });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      await ensureDir(dirname(dir));
      return ensureDir(dir, mode);
    }
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (created) {
    await fs.chmod(dir, mode);
    await fsyncDir(dirname(dir));
  }
  return created;
}
