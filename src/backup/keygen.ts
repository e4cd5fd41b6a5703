/**
 * `backup keygen`: a new age X25519 identity for encrypted backups, in age-keygen's file
 * format (so `age -d -i FILE` reads it). Written with O_EXCL and mode 0600, fsynced: an
 * existing file is never replaced, and no other user can read it at any moment. Without a
 * path the identity's text is returned for the caller to print (as age-keygen does); the
 * recipient is public.
 */
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { generateIdentity } from '../crypto/keys.js';
import { HozironError, errnoCode } from '../errors.js';

export interface NewKey {
  recipient: string;
  /** Where the identity was written. */
  path?: string;
  /** The identity file's text, when no path was given (secret: for stdout only). */
  identityText?: string;
}

export async function createIdentity(output?: string): Promise<NewKey> {
  const id = generateIdentity();
  if (output === undefined) return { recipient: id.recipient, identityText: id.fileText };
  const path = resolve(output);
  let handle;
  try {
    handle = await fs.open(path, 'wx', 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw new HozironError('conflict', `${path} already exists; not replacing it`, 'choose another path');
    throw new HozironError('io', `cannot create ${path}: ${(err as Error).message}`);
  }
  try {
    await handle.chmod(0o600); // open() applied the umask; make it exactly 0600
    await handle.writeFile(id.fileText);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(path, { force: true });
    throw err;
  }
  await handle.close();
  return { recipient: id.recipient, path };
}
