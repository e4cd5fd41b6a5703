/**
 * Entry names as bytes. Linux file names are bytes, not text, and a home may hold a name that
 * is not valid UTF-8; Hoziron archives such a name byte-exact. Inside the program a name is a
 * string in "surrogate escape" form (PEP 383): valid UTF-8 decodes as usual, and each byte
 * that is not part of a valid UTF-8 sequence becomes the lone surrogate U+DC00 + byte
 * (U+DC80–U+DCFF). The mapping is one-to-one both ways, so names compare, sort into maps and
 * cross worker threads as plain strings, and a UTF-8 name is the very same string as before.
 *
 * Invariants: a string with a lone surrogate never reaches the file system as a string (Node
 * would write U+FFFD); `fsPath` turns it into a Buffer path. In MANIFEST.json such a name is
 * `path_b64` (the bytes, base64) beside a readable `path` (`\xNN` for each raw byte); a
 * `path` holding a lone surrogate is refused, so every name has exactly one spelling.
 */
import { isUtf8 as isValidUtf8 } from 'node:buffer';
import { join } from 'node:path';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /\p{Cs}/u;
const ESCAPED_BYTE = /[\udc80-\udcff]/gu;

/** Is `bytes` valid UTF-8? */
export function isUtf8(bytes: Uint8Array): boolean {
  return isValidUtf8(bytes);
}

/** Does `name` hold an escaped byte (i.e. was it decoded from bytes that are not UTF-8)? */
function hasEscapedBytes(name: string): boolean {
  return LONE_SURROGATE.test(name);
}

/** The length of the valid UTF-8 sequence starting at `i` (RFC 3629: no overlongs, no surrogates), or 0. */
function sequenceLength(b: Uint8Array, i: number): number {
  const lead = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (lead >= 0xc2 && lead <= 0xdf) return cont(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const [lo, hi] = lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const [lo, hi] = lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Bytes → name: UTF-8 decoded, each byte outside a valid sequence as U+DC00 + byte. */
export function decodeName(bytes: Uint8Array): string {
  // Checked first, not caught: a hostile archive may hold many such names, and a throw per name is slow.
  if (isValidUtf8(bytes)) return strictUtf8.decode(bytes);
  let out = '';
  let run = 0; // start of the current run of valid sequences, decoded in one call
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : sequenceLength(bytes, i);
    if (n === 0) {
      if (run < i) out += strictUtf8.decode(bytes.subarray(run, i));
      out += String.fromCharCode(0xdc00 + b);
      run = ++i;
    } else i += n;
  }
  if (run < bytes.length) out += strictUtf8.decode(bytes.subarray(run));
  return out;
}

/** Name → bytes: the inverse of `decodeName`. Throws on a lone surrogate `decodeName` never makes. */
export function encodeName(name: string): Buffer {
  if (!LONE_SURROGATE.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let text = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) {
      if (c < 0xdc80 || c > 0xdcff) throw new RangeError(`name ${JSON.stringify(name)} holds a lone surrogate`);
      parts.push(Buffer.from(text, 'utf8'), Buffer.of(c - 0xdc00));
      text = '';
    } else text += ch;
  }
  parts.push(Buffer.from(text, 'utf8'));
  return Buffer.concat(parts);
}

/** A name as people read it: each raw byte as `\xNN`, everything else as is (for messages and `path`). */
export function displayName(name: string): string {
  return name.replace(ESCAPED_BYTE, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16).padStart(2, '0')}`);
}

/** `root/rel` for the file system: a string, or a Buffer when `rel` holds raw bytes. */
export function fsPath(root: string, rel: string): string | Buffer {
  if (!hasEscapedBytes(rel)) return join(root, rel);
  return Buffer.concat([Buffer.from(`${root.replace(/\/+$/, '')}/`, 'utf8'), encodeName(rel)]);
}

/** `JSON.stringify` replacer for a manifest: a non-UTF-8 `path` is written as `path_b64` plus its display form. */
export function manifestNameReplacer(this: void, _key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const path = (value as { path?: unknown }).path;
    if (typeof path === 'string' && hasEscapedBytes(path)) {
      return { ...value, path: displayName(path), path_b64: encodeName(path).toString('base64') };
    }
  }
  return value;
}

/**
 * Turn the `path_b64` of one `files`/`dirs` line of MANIFEST.json (`where`, e.g. `files.3`)
 * into its internal name, in place; returns why the line is refused, or undefined. Refused: a
 * `path` with a lone surrogate, a `path_b64` that is not canonical base64, that spells a valid
 * UTF-8 name (which must be a plain `path`), or whose `path` is not its display form. The
 * streaming manifest parser (manifest.ts) calls this for each line as it is read.
 */
export function decodeManifestLine(line: unknown, where: string): string | undefined {
  if (line === null || typeof line !== 'object' || Array.isArray(line)) return undefined;
  const entry = line as { path?: unknown; path_b64?: unknown };
  if (typeof entry.path === 'string' && hasEscapedBytes(entry.path)) return `${where}.path: holds a lone surrogate`;
  if (entry.path_b64 === undefined) return undefined;
  if (typeof entry.path_b64 !== 'string') return `${where}.path_b64: not a string`;
  const bytes = Buffer.from(entry.path_b64, 'base64');
  if (bytes.length === 0 || bytes.toString('base64') !== entry.path_b64) return `${where}.path_b64: not canonical base64`;
  if (isUtf8(bytes)) return `${where}.path_b64: a UTF-8 name must be given as path`;
  const name = decodeName(bytes);
  if (entry.path !== displayName(name)) return `${where}.path: does not match path_b64 (expected ${JSON.stringify(displayName(name))})`;
  entry.path = name;
  delete entry.path_b64;
  return undefined;
}

/** `decodeManifestLine` over every `files`/`dirs` line of a whole parsed manifest object. */
export function decodeManifestNames(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  for (const list of ['files', 'dirs'] as const) {
    const lines = (raw as Record<string, unknown>)[list];
    if (!Array.isArray(lines)) continue;
    for (const [i, line] of lines.entries()) {
      const bad = decodeManifestLine(line, `${list}.${i}`);
      if (bad) return bad;
    }
  }
  return undefined;
}
