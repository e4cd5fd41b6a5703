/**
 * The backup storage directory. The default, `<home>/backups`, is created (0700) by the
 * first operation that writes to it. A configured `[backup] storage_path` must already
 * exist: a missing one is most often a share that is not mounted, and creating it would put
 * backups on the local disk that the operator believes are elsewhere, while `list` showed
 * "no backups". So every backup operation refuses it, and nothing is created.
 */
import { promises as fs } from 'node:fs';
import { HozironError, errnoCode, ioError } from '../errors.js';
import { ensureDir } from '../fsutil/atomic.js';
import type { LoadedConfig } from '../home/config.js';

function isConfigured(cfg: LoadedConfig): boolean {
  return cfg.config.backup.storage_path !== '';
}

/**
 * Whether the storage directory exists. A configured one that does not, or that is not a
 * directory, is refused (`storage_missing`); the default one may simply not exist yet.
 */
export async function checkStorage(cfg: LoadedConfig): Promise<boolean> {
  const dir = cfg.storageDir;
  let st;
  try {
    st = await fs.stat(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') {
      throw new HozironError('storage_missing', `cannot reach the backup storage ${dir}: ${(err as Error).message}`);
    }
    if (!isConfigured(cfg)) return false;
    throw new HozironError(
      'storage_missing',
      `the backup storage ${dir} ([backup] storage_path) does not exist`,
      'mount it, or create it (mode 0700), or point [backup] storage_path in config.toml elsewhere; it is not created automatically',
    );
  }
  if (!st.isDirectory()) {
    throw new HozironError(
      'storage_missing',
      `the backup storage ${dir} is not a directory`,
      'point [backup] storage_path in config.toml at a directory',
    );
  }
  return true;
}

/** Make sure the storage directory is there before writing: create only the default one. */
export async function ensureStorage(cfg: LoadedConfig): Promise<void> {
  if (await checkStorage(cfg)) return;
  await ensureDir(cfg.storageDir, 0o700).catch((err: unknown) => {
    throw ioError(err, cfg.storageDir);
  });
}
