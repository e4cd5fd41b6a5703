/**
 * Reading a file that holds a secret (an identity, a passphrase): its text and, when group
 * or others may read it, a warning. Errors and the warning name the file, never its contents.
 */
import { promises as fs } from 'node:fs';
import { HozironError, errnoCode, type ErrorCode } from '../errors.js';

/** `label` names the file in messages ("the identity file"); `code` is the refusal's error code. */
export async function readSecretFile(path: string, label: string, code: ErrorCode): Promise<{ text: string; warning?: string }> {
  let text: string;
  let mode: number;
  try {
    const handle = await fs.open(path, 'r');
    try {
      mode = (await handle.stat()).mode;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    const why = errnoCode(err) === 'ENOENT' ? 'does not exist' : `cannot be read (${errnoCode(err) ?? 'error'})`;
    throw new HozironError(code, `${label} ${path} ${why}`);
  }
  if ((mode & 0o077) === 0) return { text };
  const shown = (mode & 0o777).toString(8).padStart(4, '0');
  return { text, warning: `${label} ${path} is accessible by group or others (mode ${shown}); restrict it to 0600` };
}
