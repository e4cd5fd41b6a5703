/**
 * The reader's entry policy as one pure function: from what an entry's headers say and what
 * the archive has shown so far, accept the entry as the manifest, a directory or a file, or
 * refuse it and say why. It reads nothing and changes nothing, so every rule can be tested
 * alone, and the order of the checks is in one place: header tricks first (a pax size that
 * disagrees with the ustar one), then the entry type (links, devices and FIFOs are named),
 * then the name on its own, then what the manifest lists.
 */
import { displayName } from './entry-name.js';
import { unsafeNameReason } from './entry-paths.js';
import { MANIFEST_NAME, MAX_MANIFEST_BYTES, type ManifestDir, type ManifestFile } from './manifest.js';
import { USTAR_MAX_SIZE } from './tar-header.js';

/** One entry's headers, with any pax / GNU extended header before it already applied. */
export interface EntryHeaders {
  name: string;
  linkTarget: string;
  /** The ustar type flag, one character. */
  type: string;
  /** The size field of the ustar block itself. */
  ustarSize: number;
  paxSize: number | undefined;
}

/** What the reader knows when the entry arrives. */
export interface ArchiveSoFar {
  /** What MANIFEST.json lists, once it has been read; undefined for the first entry. */
  listed: { files: { get(path: string): ManifestFile | undefined }; dirs: { get(path: string): ManifestDir | undefined } } | undefined;
  /** Names of the entries already read (directories without their trailing slash). */
  seen: { has(name: string): boolean };
}

export type EntryVerdict =
  | { kind: 'manifest'; size: number }
  | { kind: 'directory'; name: string; dir: ManifestDir }
  | { kind: 'file'; name: string; file: ManifestFile }
  | { kind: 'refused'; reason: string };

const refused = (reason: string): EntryVerdict => ({ kind: 'refused', reason });

/** Accept or refuse one entry; a refusal's reason names the entry and the rule it broke. */
export function classifyEntry(h: EntryHeaders, so: ArchiveSoFar): EntryVerdict {
  const shown = JSON.stringify(displayName(h.name));
  // A pax size must equal the ustar size, unless it is past what the ustar field can hold.
  if (h.paxSize !== undefined && h.paxSize !== h.ustarSize && !(h.paxSize > USTAR_MAX_SIZE && h.ustarSize === 0)) {
    return refused(`${displayName(h.name)}: the pax size (${h.paxSize}) and the ustar size (${h.ustarSize}) disagree`);
  }
  const size = h.paxSize ?? h.ustarSize;
  const typeRefusal = refusedType(h, shown);
  if (typeRefusal) return refused(typeRefusal);
  const isDir = h.type === '5';
  const name = isDir ? h.name.replace(/\/+$/, '') : h.name;
  const unsafe = unsafeNameReason(name);
  if (unsafe) return refused(`entry ${shown} ${unsafe}`);

  if (!so.listed) {
    if (name !== MANIFEST_NAME || isDir) return refused(`the first entry must be ${MANIFEST_NAME}, found ${shown}`);
    if (size > MAX_MANIFEST_BYTES) return refused(`${MANIFEST_NAME} is ${size} bytes, more than the ${MAX_MANIFEST_BYTES} allowed`);
    if (size === 0) return refused(`${MANIFEST_NAME} is empty`);
    return { kind: 'manifest', size };
  }
  if (name === MANIFEST_NAME) return refused(`${MANIFEST_NAME} appears twice`);
  if (so.seen.has(name)) return refused(`entry ${shown} appears twice`);
  if (isDir) {
    const dir = so.listed.dirs.get(name);
    if (!dir) return refused(`entry ${shown}/ is not listed in ${MANIFEST_NAME}`);
    if (size !== 0) return refused(`directory entry ${shown} has a size`);
    return { kind: 'directory', name, dir };
  }
  const file = so.listed.files.get(name);
  if (!file) return refused(`entry ${shown} is not listed in ${MANIFEST_NAME}`);
  if (size !== file.size) return refused(`entry ${shown} is ${size} bytes but ${MANIFEST_NAME} says ${file.size}`);
  return { kind: 'file', name, file };
}

/** Only regular files ('0', or '\0' from old tars) and directories ('5'); anything else by name. */
function refusedType(h: EntryHeaders, shown: string): string | undefined {
  switch (h.type) {
    case '0':
    case '\0':
    case '5':
      return undefined;
    case '1':
      return `${shown} is a hard link (to ${JSON.stringify(h.linkTarget)}); hoziron archives never contain links`;
    case '2':
      return `${shown} is a symbolic link (to ${JSON.stringify(h.linkTarget)}); hoziron archives never contain links`;
    case '3':
    case '4':
      return `${shown} is a ${h.type === '3' ? 'character' : 'block'} device entry`;
    case '6':
      return `${shown} is a FIFO entry`;
    default:
      return `${shown} has unsupported entry type ${JSON.stringify(h.type)}`;
  }
}
