/**
 * Whether the backup storage directory can take a backup now: it exists, is a directory, and a
 * file can really be created in it (access() would miss a read-only mount, a full inode table
 * and, for root, every permission). Read-only apart from the probe file, which is removed.
 * Shared by the daemon's health and the doctor.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { tempNameFor } from '../fsutil/temp.js';

export type StorageCheck = { ok: true } | { ok: false; problem: 'missing' | 'unwritable'; error: string };

export async function checkStorage(dir: string): Promise<StorageCheck> {
  let st;
  try {
    st = await fs.stat(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { ok: false, problem: 'missing', error: `${dir} does not exist` };
    return { ok: false, problem: 'unwritable', error: `cannot reach ${dir}: ${(err as Error).message}` };
  }
  if (!st.isDirectory()) return { ok: false, problem: 'unwritable', error: `${dir} is not a directory` };
  const probe = tempNameFor(join(dir, '.storage-probe'));
  try {
    await fs.writeFile(probe, 'probe', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    return { ok: false, problem: 'unwritable', error: `cannot write in ${dir}: ${(err as Error).message}` };
  } finally {
    await fs.rm(probe, { force: true }).catch(() => undefined);
  }
  return { ok: true };
}
