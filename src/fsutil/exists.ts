/** Whether a path exists, without following a final symlink; any error but ENOENT is real. */
import { promises as fs } from 'node:fs';
import { errnoCode } from '../errors.js';

export async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
