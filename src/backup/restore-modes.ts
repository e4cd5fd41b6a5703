/**
 * The modes a restore gives what it writes, whatever the archive's headers or manifest say
 * (an archive is untrusted input: one that says 0777 must not leave secrets world-readable).
 * The rule (docs/format.md#modes):
 * - secrets, i.e. `config.toml`, `.env` and every database: 0600;
 * - every directory: 0700;
 * - any other file: the archived permission bits limited to 0644 (no execute bit, no write
 *   for group or other), with the owner's read and write always kept so later backups can
 *   read it;
 * - never a set-uid, set-gid or sticky bit.
 */
import { DATABASES, HOME_FILES } from '../home/layout.js';

const SECRETS: ReadonlySet<string> = new Set<string>([HOME_FILES.config, HOME_FILES.env, ...DATABASES]);

const SECRET_FILE_MODE = 0o600;
export const RESTORED_DIR_MODE = 0o700;

/** The mode a restored file at home-relative `rel` gets, given the mode its archive records. */
export function restoredFileMode(rel: string, archivedMode: number): number {
  if (SECRETS.has(rel)) return SECRET_FILE_MODE;
  return (archivedMode & 0o644) | 0o600;
}
