/**
 * Which archive an API request names. The API reads archives only from the storage path:
 * by id (looked up in the catalog), or by `file`, which must be an absolute path to a regular
 * file directly in the storage directory or its pre-restore folder, also after resolving
 * symlinks of its directory. Anything else is refused before any byte of it is read. The one
 * exception is a request made with a local credential (the home's owner, on this host).
 */
import { promises as fs } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { findBackup, preRestoreDir } from '../backup/catalog.js';
import { HozironError, errnoCode } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';

async function realDir(dir: string): Promise<string> {
  try {
    return await fs.realpath(dir);
  } catch {
    return resolve(dir);
  }
}

/**
 * The API reads archives only from the storage path: `file` must be an absolute path to a
 * regular file (not a symlink) directly in the storage directory or its pre-restore folder,
 * also after resolving symlinks of its directory. Returns the path; throws `bad_request`.
 */
async function archiveInStorage(cfg: LoadedConfig, file: string): Promise<string> {
  const refuse = (why: string) =>
    new HozironError(
      'bad_request',
      `refusing ${JSON.stringify(file)}: ${why}`,
      `the API only reads archives in the storage path ${cfg.storageDir}; use its id`,
    );
  if (!isAbsolute(file)) throw refuse('not an absolute path');
  const path = resolve(file);
  const allowed = [await realDir(cfg.storageDir), await realDir(preRestoreDir(cfg))];
  if (!allowed.includes(await realDir(dirname(path)))) throw refuse('it is outside the backup storage path');
  let st;
  try {
    st = await fs.lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new HozironError('not_found', `no archive ${path}`);
    throw err;
  }
  if (!st.isFile()) throw refuse('not a regular file');
  return path;
}

/**
 * A `file` named by the home's owner on this host (a local credential: local-credential.ts),
 * who can read any file the daemon can: any absolute path to a regular file.
 */
async function archiveAnywhere(file: string): Promise<string> {
  if (!isAbsolute(file)) throw new HozironError('bad_request', `refusing ${JSON.stringify(file)}: not an absolute path`);
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new HozironError('not_found', `no archive ${file}`);
    throw new HozironError('io', `cannot read ${file}: ${(err as Error).message}`);
  }
  if (!st.isFile()) throw new HozironError('bad_request', `refusing ${JSON.stringify(file)}: not a regular file`);
  return resolve(file);
}

export async function resolveSource(
  cfg: LoadedConfig,
  req: { id?: string; file?: string },
  opts: { anyPath?: boolean } = {},
): Promise<string> {
  if ((req.id === undefined) === (req.file === undefined)) {
    throw new HozironError('bad_request', 'give exactly one of "id" or "file"');
  }
  if (req.id !== undefined) return (await findBackup(cfg, req.id)).path;
  return opts.anyPath ? archiveAnywhere(req.file!) : archiveInStorage(cfg, req.file!);
}
