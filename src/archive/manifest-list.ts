/**
 * The files and directories a manifest lists, held compactly: a manifest may list hundreds
 * of thousands of entries, and a JS string, a Map entry and an object per entry cost several
 * times the bytes of the entry itself. Here every name is its raw bytes (entry-name.ts: the
 * UTF-8 of the name, or its exact bytes when it is not UTF-8) packed into fixed 1 MiB pages,
 * found again through an open-addressing table of entry numbers keyed by a secret-keyed hash
 * (so a hostile manifest cannot make its lookups quadratic); sizes, modes and the SHA-256 (32
 * raw bytes) sit in typed arrays of fixed pages (`Column`). Per entry that is the name's bytes plus about 60 bytes for
 * a file and 20 for a directory. Entries are handed out as small objects made on demand, so
 * callers still see `{ path, size, mode, sha256 }`; `pathBytesAt` and `indexOfBytes` let
 * the hot loops work on bytes without making a string per entry.
 * Invariant: a name appears once in a list (`add` refuses a second).
 */
import { randomBytes } from 'node:crypto';
import { decodeName, encodeName } from './entry-name.js';

export interface ManifestFile {
  path: string;
  size: number;
  mode: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface ManifestDir {
  path: string;
  mode: number;
}

const SHIFT = 14;
/** Entries per page of a column. */
const PER_PAGE = 1 << SHIFT;
const IN_PAGE = PER_PAGE - 1;

/**
 * One field of every entry, `width` elements each, in fixed pages of `PER_PAGE` entries:
 * growing never copies, never leaves half an array unused, and a freed list leaves blocks
 * of one size that the next list reuses.
 */
class Column<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array> {
  readonly pages: T[] = [];

  constructor(
    private readonly make: (n: number) => T,
    readonly width = 1,
  ) {}

  /** Make room for entry `i` (entries are added in order). */
  ensure(i: number): void {
    while (i >>> SHIFT >= this.pages.length) this.pages.push(this.make(PER_PAGE * this.width));
  }

  get(i: number): number {
    return this.pages[i >>> SHIFT]![i & IN_PAGE]!;
  }

  set(i: number, v: number): void {
    this.pages[i >>> SHIFT]![i & IN_PAGE] = v;
  }

  /** The page holding entry `i`, and where its `width` elements start in it. */
  slot(i: number): [T, number] {
    return [this.pages[i >>> SHIFT]!, (i & IN_PAGE) * this.width];
  }
}

const KEY = randomBytes(8);
const K0 = KEY.readInt32LE(0);
const K1 = KEY.readInt32LE(4);
const rotl = (x: number, b: number) => (x << b) | (x >>> (32 - b));

/**
 * HalfSipHash-1-3 of `buf[start, end)` under this process's random key: a keyed hash, so an
 * archive cannot choose names that all land in one chain of the table.
 */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let v0 = K0;
  let v1 = K1;
  let v2 = 0x6c796765 ^ K0;
  let v3 = 0x74656462 ^ K1;
  const round = () => {
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  };
  const len = end - start;
  const whole = start + (len & ~3);
  let i = start;
  for (; i < whole; i += 4) {
    const m = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  let last = len << 24;
  const left = len & 3;
  if (left >= 3) last |= buf[i + 2]! << 16;
  if (left >= 2) last |= buf[i + 1]! << 8;
  if (left >= 1) last |= buf[i]!;
  v3 ^= last;
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

const PAGE = 1 << 20;
const LONE_SURROGATE = /\p{Cs}/u;
let scratch = Buffer.allocUnsafe(16 * 1024);

/** The bytes of a name (in a shared scratch buffer: valid until the next call), or undefined for a string no name can be. */
function nameBytes(name: string): { buf: Uint8Array; len: number } | undefined {
  if (LONE_SURROGATE.test(name)) {
    try {
      const b = encodeName(name);
      return { buf: b, len: b.length };
    } catch {
      return undefined; // a surrogate decodeName never makes: not a name any list holds
    }
  }
  if (name.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(name.length * 3);
  return { buf: scratch, len: scratch.write(name, 'utf8') };
}

/** Names with a mode each, indexed by name; the shared part of files and directories. */
class PathList {
  /** Name bytes in pages of `PAGE` bytes; a name never spans two pages. */
  private readonly pages: Uint8Array[] = [];
  private pageUsed = PAGE;
  /** Where name i starts: page * PAGE + offset. */
  private readonly starts = new Column((n) => new Uint32Array(n));
  private readonly lengths = new Column((n) => new Uint16Array(n));
  protected readonly modes = new Column((n) => new Uint16Array(n));
  /** Open addressing, linear probing: entry number + 1, 0 for a free slot; at most 70 % full. */
  private slots = new Int32Array(32);
  private count = 0;
  private nameBytesTotal = 0;

  get length(): number {
    return this.count;
  }

  /** Bytes of all the names together. */
  get namesSize(): number {
    return this.nameBytesTotal;
  }

  /** The bytes of name i (a view into the list: do not keep it past a change of the list). */
  pathBytesAt(i: number): Uint8Array {
    const start = this.starts.get(i);
    const page = this.pages[Math.floor(start / PAGE)]!;
    const off = start % PAGE;
    return page.subarray(off, off + this.lengths.get(i));
  }

  pathAt(i: number): string {
    return decodeName(this.pathBytesAt(i));
  }

  private equalsAt(i: number, buf: Uint8Array, start: number, end: number): boolean {
    const len = end - start;
    if (this.lengths.get(i) !== len) return false;
    const s = this.starts.get(i);
    const page = this.pages[Math.floor(s / PAGE)]!;
    const off = s % PAGE;
    for (let k = 0; k < len; k++) if (page[off + k] !== buf[start + k]) return false;
    return true;
  }

  /** Index of the name whose bytes are `buf[start, end)`, or -1. */
  indexOfBytes(buf: Uint8Array, start: number, end: number): number {
    const mask = this.slots.length - 1;
    for (let s = hashBytes(buf, start, end) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s]!;
      if (v === 0) return -1;
      if (this.equalsAt(v - 1, buf, start, end)) return v - 1;
    }
  }

  /** Index of `path`, or -1. */
  indexOf(path: string): number {
    const b = nameBytes(path);
    return b ? this.indexOfBytes(b.buf, 0, b.len) : -1;
  }

  /** Append the name `buf[start, end)`; -1 (and nothing added) when it is already listed. */
  protected addName(buf: Uint8Array, start: number, end: number, mode: number): number {
    if (this.indexOfBytes(buf, start, end) >= 0) return -1;
    const len = end - start;
    // Far beyond PATH_MAX (4096): no file a home can hold.
    if (len > 0xffff) throw new RangeError(`a name of ${len} bytes`);
    if (this.pageUsed + len > PAGE) {
      this.pages.push(new Uint8Array(PAGE));
      this.pageUsed = 0;
    }
    const pageNo = this.pages.length - 1;
    this.pages[pageNo]!.set(buf.subarray(start, end), this.pageUsed);
    const i = this.count;
    for (const c of [this.starts, this.lengths, this.modes]) c.ensure(i);
    this.starts.set(i, pageNo * PAGE + this.pageUsed);
    this.lengths.set(i, len);
    this.modes.set(i, mode);
    this.pageUsed += len;
    this.nameBytesTotal += len;
    this.count++;
    if (this.count * 10 > this.slots.length * 7) this.rehash(this.slots.length * 2);
    else this.insertSlot(i, hashBytes(buf, start, end));
    return i;
  }

  protected addPath(path: string, mode: number): number {
    const b = nameBytes(path);
    if (!b) throw new RangeError(`name ${JSON.stringify(path)} holds a lone surrogate`);
    return this.addName(b.buf, 0, b.len, mode);
  }

  private insertSlot(i: number, hash: number): void {
    const mask = this.slots.length - 1;
    let s = hash & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = i + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let i = 0; i < this.count; i++) {
      const b = this.pathBytesAt(i);
      this.insertSlot(i, hashBytes(b, 0, b.length));
    }
  }
}

export class FileList extends PathList {
  private readonly sizes = new Column((n) => new Float64Array(n));
  /** SHA-256 of each file, 32 raw bytes. */
  private readonly hashes = new Column((n) => Buffer.alloc(n), 32);
  private total = 0;

  static from(files: readonly ManifestFile[]): FileList {
    const list = new FileList();
    for (const f of files) list.add(f);
    return list;
  }

  add(f: ManifestFile): boolean {
    const i = this.addPath(f.path, f.mode);
    if (i < 0) return false;
    this.setFile(i, f.size);
    const [page, at] = this.hashes.slot(i);
    page.write(f.sha256, at, 32, 'hex');
    return true;
  }

  /**
   * Append a file whose name is `buf[start, end)` and whose SHA-256 is the 64 lower-case hex
   * digits at `buf[shaAt]`; false when the name is already listed. (The streaming parser's
   * path: no string is made.)
   */
  addBytes(buf: Uint8Array, start: number, end: number, mode: number, size: number, shaAt: number): boolean {
    const i = this.addName(buf, start, end, mode);
    if (i < 0) return false;
    this.setFile(i, size);
    const [page, at] = this.hashes.slot(i);
    for (let k = 0; k < 32; k++) page[at + k] = (hexDigit(buf[shaAt + 2 * k]!) << 4) | hexDigit(buf[shaAt + 2 * k + 1]!);
    return true;
  }

  private setFile(i: number, size: number): void {
    this.sizes.ensure(i);
    this.hashes.ensure(i);
    this.sizes.set(i, size);
    this.total += size;
  }

  sizeAt(i: number): number {
    return this.sizes.get(i);
  }

  at(i: number): ManifestFile {
    const [page, at] = this.hashes.slot(i);
    return { path: this.pathAt(i), size: this.sizes.get(i), mode: this.modes.get(i), sha256: page.toString('hex', at, at + 32) };
  }

  get(path: string): ManifestFile | undefined {
    const i = this.indexOf(path);
    return i < 0 ? undefined : this.at(i);
  }

  /** Total bytes of the files (the unpacked size). */
  totalSize(): number {
    return this.total;
  }

  *[Symbol.iterator](): IterableIterator<ManifestFile> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** As JSON: the manifest's `files` array. */
  toJSON(): ManifestFile[] {
    return [...this];
  }
}

/** The value of one lower-case hex digit (the caller has checked it is one). */
function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

export class DirList extends PathList {
  static from(dirs: readonly ManifestDir[]): DirList {
    const list = new DirList();
    for (const d of dirs) list.add(d);
    return list;
  }

  add(d: ManifestDir): boolean {
    return this.addPath(d.path, d.mode) >= 0;
  }

  /** Append a directory whose name is `buf[start, end)`; false when it is already listed. */
  addBytes(buf: Uint8Array, start: number, end: number, mode: number): boolean {
    return this.addName(buf, start, end, mode) >= 0;
  }

  at(i: number): ManifestDir {
    return { path: this.pathAt(i), mode: this.modes.get(i) };
  }

  get(path: string): ManifestDir | undefined {
    const i = this.indexOf(path);
    return i < 0 ? undefined : this.at(i);
  }

  *[Symbol.iterator](): IterableIterator<ManifestDir> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  toJSON(): ManifestDir[] {
    return [...this];
  }
}
