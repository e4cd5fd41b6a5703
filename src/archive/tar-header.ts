/**
 * Raw tar headers, read strictly. We parse the 512-byte blocks ourselves rather than through
 * tar-stream because tar-stream applies a pax `size` and hides the ustar size field, and the
 * "pax and ustar sizes disagree" trick can only be refused by a reader that sees both. The
 * parser knows POSIX ustar, pax extended headers ('x') and GNU long names ('L'/'K') so that
 * it can NAME a hostile entry written by any common tool; it refuses what it cannot vouch for.
 */

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
