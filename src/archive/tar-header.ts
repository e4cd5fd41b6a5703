/**
 * Raw tar headers, both ways. The parser reads 512-byte blocks strictly, rather than through
 * tar-stream, because tar-stream applies a pax `size` and hides the ustar size field, and the
 * "pax and ustar sizes disagree" trick can only be refused by a reader that sees both. It
 * knows POSIX ustar, pax extended headers ('x') and GNU long names ('L'/'K') so that it can
 * NAME a hostile entry written by any common tool; it refuses what it cannot vouch for.
 *
 * The encoder writes POSIX pax (ustar plus an 'x' record only when ustar cannot carry a field
 * exactly), the format GNU tar and Python's tarfile read without complaint. Names are bytes
 * as well as strings, so a name that is not UTF-8 can be archived byte-exact (pax
 * `hdrcharset=BINARY`). Invariant: a field the ustar block cannot hold exactly is in the pax
 * record and written as 0 (or a truncated name) in the block, never silently clipped.
 */
import { HozironError } from '../errors.js';

export const BLOCK = 512;

/** What a header block says, before the entry's name is resolved against extended headers. */
export interface RawHeader {
  /** ustar name (prefix + '/' + name for POSIX ustar), as bytes decoded later. */
  name: Buffer;
  mode: number;
  /** The size field of the ustar header itself. */
  size: number;
  type: string;
  linkname: Buffer;
  format: 'posix' | 'gnu';
  /** Seconds since the epoch, uid and gid; undefined when unreadable (the reader ignores them). */
  mtime: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
}

export class HeaderError extends Error {}

function cString(buf: Buffer, start: number, length: number): Buffer {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/** A numeric field: octal text (NUL/space padded) or GNU base-256 binary. */
function numeric(buf: Buffer, start: number, length: number, what: string): number {
  const field = buf.subarray(start, start + length);
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) throw new HeaderError(`negative ${what} field`);
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw new HeaderError(`${what} field out of range`);
    }
    return value;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new HeaderError(`${what} field is not a number`);
  return parseInt(text, 8);
}

/** `numeric`, but undefined instead of an error: for fields the reader never acts on. */
function lenientNumeric(buf: Buffer, start: number, length: number): number | undefined {
  try {
    return numeric(buf, start, length, 'field');
  } catch {
    return undefined;
  }
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parse one header block; throws HeaderError for a bad checksum, magic or number. */
export function parseHeader(block: Buffer): RawHeader {
  const stored = numeric(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) throw new HeaderError('header checksum does not match');
  const magic = block.toString('latin1', 257, 265);
  let format: RawHeader['format'];
  if (magic === 'ustar\x0000') format = 'posix';
  else if (magic === 'ustar  \x00') format = 'gnu';
  else throw new HeaderError('not a ustar/pax header');
  const shortName = cString(block, 0, 100);
  const prefix = format === 'posix' ? cString(block, 345, 155) : Buffer.alloc(0);
  const name = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), shortName]) : shortName;
  return {
    name,
    mode: numeric(block, 100, 8, 'mode'),
    size: numeric(block, 124, 12, 'size'),
    type: String.fromCharCode(block[156]!),
    linkname: cString(block, 157, 100),
    format,
    mtime: lenientNumeric(block, 136, 12),
    uid: lenientNumeric(block, 108, 8),
    gid: lenientNumeric(block, 116, 8),
  };
}

/** The largest size the 11-digit octal ustar field can carry (a pax size beyond it is legitimate). */
export const USTAR_MAX_SIZE = 8 ** 11 - 1;

/** Records of a pax extended header: `<len> <key>=<value>\n`, each exactly `len` bytes. */
export function parsePax(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // NUL padding after the last record
    const space = body.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw new HeaderError('malformed pax record');
    const lenText = body.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) throw new HeaderError('malformed pax record length');
    const len = parseInt(lenText, 10);
    const end = pos + len;
    if (len < 5 || end > body.length || body[end - 1] !== 0x0a) throw new HeaderError('malformed pax record');
    const eq = body.indexOf(0x3d, space + 1);
    if (eq === -1 || eq >= end) throw new HeaderError('malformed pax record');
    const key = body.toString('utf8', space + 1, eq);
    if (records.has(key)) throw new HeaderError(`pax key ${key} given twice`);
    records.set(key, body.subarray(eq + 1, end - 1));
    pos = end;
  }
  return records;
}

/** What the writer says about one entry. Only regular files and directories are ever written. */
export interface EntryHeader {
  /** A string is written as UTF-8; bytes are written as they are (see `encodeHeader`). */
  name: string | Buffer;
  type: 'file' | 'directory';
  size: number;
  /** Permission bits; anything above 0o7777 (the file-type bits) is dropped. */
  mode: number;
  /** Whole seconds are kept; a time before 1970 or after 2242 goes into a pax record. */
  mtime: Date;
  uid?: number;
  gid?: number;
}

/** The largest value of an octal field of `length` bytes (digits plus a terminating NUL). */
const octalMax = (length: number) => 8 ** (length - 1) - 1;
const PAX_HEADER_NAME = Buffer.from('PaxHeader');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The header block(s) of one entry: a ustar block, preceded by a pax extended header (its
 * block, its records, their padding) when a field does not fit ustar: a name that is not
 * ASCII or does not split into prefix (155 bytes) + name (100 bytes), a size of 8 GiB or
 * more, an mtime outside 1970–2242, a uid or gid above 0o7777777. A name given as bytes
 * that are not valid UTF-8 stays in the ustar block when it fits there; otherwise its pax
 * `path` is recorded with `hdrcharset=BINARY`, so a reader keeps the bytes as they are
 * instead of decoding them.
 */
export function encodeHeader(entry: EntryHeader): Buffer {
  const name = nameBytes(entry.name);
  const numbers = entryNumbers(entry);
  const pax: [string, Buffer][] = [];
  const split = ustarSplit(name);
  if (!split) {
    if (!isUtf8(name)) pax.push(['hdrcharset', Buffer.from('BINARY')]);
    pax.push(['path', name]);
  }
  const fits = {
    size: numbers.size <= octalMax(12),
    mtime: numbers.mtime >= 0 && numbers.mtime <= octalMax(12),
    uid: numbers.uid <= octalMax(8),
    gid: numbers.gid <= octalMax(8),
  };
  for (const key of ['size', 'mtime', 'uid', 'gid'] as const) {
    if (!fits[key]) pax.push([key, Buffer.from(String(numbers[key]))]);
  }
  const block = ustarBlock({
    ...(split ?? fallbackSplit(name)),
    type: entry.type === 'directory' ? '5' : '0',
    mode: entry.mode & 0o7777,
    size: fits.size ? numbers.size : 0,
    mtime: fits.mtime ? numbers.mtime : 0,
    uid: fits.uid ? numbers.uid : 0,
    gid: fits.gid ? numbers.gid : 0,
  });
  if (pax.length === 0) return block;
  const records = encodePaxRecords(pax);
  const paxHead = ustarBlock({
    prefix: undefined,
    name: PAX_HEADER_NAME,
    type: 'x',
    mode: 0o644,
    size: records.length,
    mtime: fits.mtime ? numbers.mtime : 0,
    uid: 0,
    gid: 0,
  });
  const padding = Buffer.alloc((BLOCK - (records.length % BLOCK)) % BLOCK);
  return Buffer.concat([paxHead, records, padding, block]);
}

/** The entry's numeric fields, whole and non-negative (only an mtime may be before 1970). */
function entryNumbers(entry: EntryHeader): { size: number; mtime: number; uid: number; gid: number } {
  const numbers = { size: entry.size, mtime: Math.floor(entry.mtime.getTime() / 1000), uid: entry.uid ?? 0, gid: entry.gid ?? 0 };
  for (const [key, value] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(value) || (value < 0 && key !== 'mtime')) {
      throw new HozironError('internal', `tar entry ${String(entry.name)} has an invalid ${key} (${value})`);
    }
  }
  return numbers;
}

function nameBytes(name: string | Buffer): Buffer {
  if (typeof name === 'string') {
    // A lone surrogate would be written as U+FFFD: a different name, so refuse it.
    if (/\p{Cs}/u.test(name)) throw new HozironError('internal', `tar entry name ${JSON.stringify(name)} is not well-formed Unicode`);
    name = Buffer.from(name, 'utf8');
  }
  if (name.length === 0 || name.includes(0))
    throw new HozironError('internal', `tar entry name ${JSON.stringify(name.toString('latin1'))} is empty or holds a NUL byte`);
  return name;
}

function isUtf8(bytes: Buffer): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

interface UstarName {
  prefix: Buffer | undefined;
  name: Buffer;
}

/**
 * Split a name at a '/' into prefix (≤ 155 bytes) and name (≤ 100); undefined when it cannot
 * be. A UTF-8 name with non-ASCII characters always goes to pax (whose `path` is UTF-8 by
 * definition; a ustar field has no charset). A name that is not UTF-8 has no charset to
 * declare: it stays in the ustar fields as raw bytes when it fits, which is how GNU tar
 * writes it and how GNU tar and Python read it back (GNU tar warns about `hdrcharset`).
 */
function ustarSplit(name: Buffer): UstarName | undefined {
  if (name.some((b) => b > 0x7f) && isUtf8(name)) return undefined;
  if (name.length <= 100) return { prefix: undefined, name };
  // Right to left, the name part grows and the prefix shrinks: take the first split where both fit.
  for (let slash = name.lastIndexOf(0x2f); slash > 0; slash = name.lastIndexOf(0x2f, slash - 1)) {
    if (name.length - slash - 1 > 100) return undefined;
    if (slash <= 155 && slash < name.length - 1) return { prefix: name.subarray(0, slash), name: name.subarray(slash + 1) };
  }
  return undefined;
}

/**
 * The ustar name of an entry whose real name is in a pax record: only a reader that ignores
 * pax sees it, so it is the name's first 100 bytes with anything outside printable ASCII as
 * '_' (never a partial UTF-8 sequence, never bytes a terminal would interpret).
 */
function fallbackSplit(name: Buffer): UstarName {
  const ascii = Buffer.from(name.subarray(0, 100));
  for (let i = 0; i < ascii.length; i++) if (ascii[i]! < 0x20 || ascii[i]! > 0x7e) ascii[i] = 0x5f;
  return { prefix: undefined, name: ascii };
}

/** `<len> <key>=<value>\n` records, where `len` counts the whole record including itself. */
function encodePaxRecords(records: [string, Buffer][]): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
      let len = rest + String(rest).length;
      if (String(len).length !== String(rest).length) len = rest + String(len).length;
      return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
    }),
  );
}

interface UstarFields extends UstarName {
  type: '0' | '5' | 'x';
  mode: number;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
}

/** One POSIX ustar block; every number must already fit its octal field. */
function ustarBlock(f: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  f.name.copy(block, 0);
  writeOctal(block, 100, 8, f.mode);
  writeOctal(block, 108, 8, f.uid);
  writeOctal(block, 116, 8, f.gid);
  writeOctal(block, 124, 12, f.size);
  writeOctal(block, 136, 12, f.mtime);
  block.write(f.type, 156, 'latin1');
  block.write('ustar\x0000', 257, 'latin1');
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  f.prefix?.copy(block, 345);
  // The checksum is summed with its own field as eight spaces, then written as 6 digits, NUL, space.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** Zero-padded octal digits filling the field but its last byte, which stays NUL. */
function writeOctal(block: Buffer, start: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, '0'), start, 'latin1');
}
