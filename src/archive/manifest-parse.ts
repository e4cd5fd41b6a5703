/**
 * MANIFEST.json parsed as its bytes stream in, straight into the compact lists of
 * `manifest-list.ts`: no string of the whole document, no tree of objects, no second copy
 * by a schema library. Memory is the lists plus at most one pending value (`MAX_VALUE_BYTES`),
 * whatever the size of the document, so a hostile manifest cannot cost more than the
 * entries it really lists.
 *
 * The grammar is JSON's (RFC 8259); the document must be an object. `files` and `dirs` are
 * read element by element; every other member is read whole (bounded) and validated as
 * `manifest.ts`'s schema says. Unknown members are skipped (their size still bounded).
 * An element in the form our writer gives it (`plainEntry`) goes straight from the bytes
 * into the lists, without an object or a string; anything else is read as a JSON value and
 * judged by the schema, for the exact message.
 */
import { isUtf8 } from 'node:buffer';
import { decodeName } from './entry-name.js';
import { DirList, FileList, type ManifestDir, type ManifestFile } from './manifest-list.js';

/** A pending value (one entry of `files`, or a top-level member) larger than this is refused. */
const MAX_VALUE_BYTES = 1024 * 1024;
const MAX_DEPTH = 32;

/** Thrown internally when the bytes so far end inside a value (one instance: no stack per throw). */
class Incomplete extends Error {}
const INCOMPLETE = new Incomplete('incomplete');

const utf8 = new TextDecoder('utf-8', { fatal: true });

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class ManifestSyntaxError extends Error {}

/** A string whose bytes are not UTF-8; `offset` is where the string starts in the document. */
export class ManifestUtf8Error extends ManifestSyntaxError {
  constructor(readonly offset: number) {
    super('a string is not valid UTF-8');
  }
}

/** JSON forbids raw U+0000..U+001F inside strings. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

/** Recursive descent over one buffer; throws INCOMPLETE when it runs off its end. */
class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    /** The document offset of `buf[0]` (for messages). */
    private readonly base = 0,
  ) {}

  ws(): void {
    const b = this.buf;
    while (this.pos < b.length) {
      const c = b[this.pos]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  peek(): number {
    this.ws();
    if (this.pos >= this.buf.length) throw INCOMPLETE;
    return this.buf[this.pos]!;
  }

  expect(c: number): void {
    if (this.peek() !== c) throw new ManifestSyntaxError(`expected '${String.fromCharCode(c)}'`);
    this.pos++;
  }

  string(): string {
    if (this.peek() !== 0x22) throw new ManifestSyntaxError('expected a string');
    const start = ++this.pos;
    let escaped = false;
    const b = this.buf;
    for (let i = start; i < b.length; i++) {
      const c = b[i]!;
      if (c === 0x5c) {
        escaped = true;
        i++;
      } else if (c === 0x22) {
        this.pos = i + 1;
        let text: string;
        try {
          text = utf8.decode(b.subarray(start, i));
        } catch {
          throw new ManifestUtf8Error(this.base + start);
        }
        if (!escaped) {
          if (hasControlCharacter(text)) throw new ManifestSyntaxError('a control character in a string');
          return text;
        }
        try {
          return JSON.parse(`"${text}"`) as string;
        } catch {
          throw new ManifestSyntaxError('a string with an invalid escape');
        }
      }
    }
    throw INCOMPLETE;
  }

  number(): number {
    const b = this.buf;
    const start = this.pos;
    let i = start;
    while (i < b.length && /[-+0-9.eE]/.test(String.fromCharCode(b[i]!))) i++;
    if (i >= b.length) throw INCOMPLETE;
    const text = b.toString('latin1', start, i);
    if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text)) throw new ManifestSyntaxError(`invalid number ${text}`);
    this.pos = i;
    return Number(text);
  }

  literal(word: string, value: Json): Json {
    const end = this.pos + word.length;
    if (end > this.buf.length) throw INCOMPLETE;
    if (this.buf.toString('latin1', this.pos, end) !== word) throw new ManifestSyntaxError('unexpected token');
    this.pos = end;
    return value;
  }

  private byteAt(i: number): number {
    if (i >= this.buf.length) throw INCOMPLETE;
    return this.buf[i]!;
  }

  /** A non-negative integer of at most 15 digits ending at a delimiter, or -1 for anything else. */
  private plainInteger(): number {
    let i = this.pos;
    let v = 0;
    let c = this.byteAt(i);
    if (c === 0x30) c = this.byteAt(++i);
    else
      while (c >= 0x30 && c <= 0x39 && i - this.pos < 15) {
        v = v * 10 + (c - 0x30);
        c = this.byteAt(++i);
      }
    if (i === this.pos || !(c === 0x2c || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) return -1;
    this.pos = i;
    return v;
  }

  /**
   * One `files` (or `dirs`) element in the form our writer gives it, read into `out` without
   * making an object or a string: an object of exactly the keys path, size, mode and sha256
   * (dirs: path and mode), each once; the path a string without escapes, valid UTF-8, a clean
   * relative path of at most 4096 bytes; size and mode integers (mode at most 0o7777); sha256
   * 64 lower-case hex digits. False for anything else: the caller rewinds and reads the
   * element as a JSON value, which the schema judges (and names what is wrong).
   */
  plainEntry(file: boolean, out: PlainEntry): boolean {
    const b = this.buf;
    if (this.peek() !== 0x7b) return false;
    this.pos++;
    let seen = 0;
    for (;;) {
      if (this.peek() !== 0x22) return false;
      let i = this.pos + 1;
      while (this.byteAt(i) !== 0x22 && i - this.pos <= 8) i++;
      const key = keyBit(b, this.pos + 1, i, file);
      if (key === 0 || (seen & key) !== 0) return false;
      seen |= key;
      this.pos = i + 1;
      if (this.peek() !== 0x3a) return false;
      this.pos++;
      const c = this.peek();
      if (key === KEY_PATH) {
        if (c !== 0x22) return false;
        let j = this.pos + 1;
        let ascii = true;
        for (let d = this.byteAt(j); d !== 0x22; d = this.byteAt(++j)) {
          if (d === 0x5c || d < 0x20) return false;
          if (d >= 0x80) ascii = false;
        }
        out.pathStart = this.pos + 1;
        out.pathEnd = j;
        this.pos = j + 1;
        if (!ascii && !isUtf8(b.subarray(out.pathStart, out.pathEnd))) return false;
      } else if (key === KEY_SHA) {
        if (c !== 0x22 || this.byteAt(this.pos + 65) !== 0x22) return false;
        for (let j = this.pos + 1; j <= this.pos + 64; j++) {
          const d = b[j]!;
          if (!((d >= 0x30 && d <= 0x39) || (d >= 0x61 && d <= 0x66))) return false;
        }
        out.shaAt = this.pos + 1;
        this.pos += 66;
      } else {
        const v = this.plainInteger();
        if (v < 0) return false;
        if (key === KEY_SIZE) out.size = v;
        else out.mode = v;
      }
      const n = this.peek();
      this.pos++;
      if (n === 0x7d) break;
      if (n !== 0x2c) return false;
    }
    if (seen !== (file ? KEY_PATH | KEY_MODE | KEY_SIZE | KEY_SHA : KEY_PATH | KEY_MODE)) return false;
    return out.mode <= 0o7777 && isCleanPath(b, out.pathStart, out.pathEnd);
  }

  /** One whole value (bounded by the caller: at most `MAX_VALUE_BYTES` are ever pending). */
  value(depth = 0): Json {
    if (depth > MAX_DEPTH) throw new ManifestSyntaxError('nested too deeply');
    const c = this.peek();
    if (c === 0x22) return this.string();
    if (c === 0x7b) {
      this.pos++;
      const obj: { [k: string]: Json } = {};
      if (this.peek() === 0x7d) {
        this.pos++;
        return obj;
      }
      for (;;) {
        const k = this.string();
        this.expect(0x3a);
        const v = this.value(depth + 1);
        if (k !== '__proto__') obj[k] = v;
        const n = this.peek();
        this.pos++;
        if (n === 0x7d) return obj;
        if (n !== 0x2c) throw new ManifestSyntaxError("expected ',' or '}'");
      }
    }
    if (c === 0x5b) {
      this.pos++;
      const arr: Json[] = [];
      if (this.peek() === 0x5d) {
        this.pos++;
        return arr;
      }
      for (;;) {
        const v = this.value(depth + 1);
        arr.push(v);
        const n = this.peek();
        this.pos++;
        if (n === 0x5d) return arr;
        if (n !== 0x2c) throw new ManifestSyntaxError("expected ',' or ']'");
      }
    }
    if (c === 0x74) return this.literal('true', true);
    if (c === 0x66) return this.literal('false', false);
    if (c === 0x6e) return this.literal('null', null);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    throw new ManifestSyntaxError('unexpected token');
  }
}

/** Where `plainEntry` found the parts of one element (offsets into the cursor's buffer). */
interface PlainEntry {
  pathStart: number;
  pathEnd: number;
  size: number;
  mode: number;
  shaAt: number;
}

const KEY_PATH = 1;
const KEY_MODE = 2;
const KEY_SIZE = 4;
const KEY_SHA = 8;

function bytesAre(b: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[start + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** Which of a plain element's keys `b[start, end)` is (0: none, or not one of a directory's). */
function keyBit(b: Buffer, start: number, end: number, file: boolean): number {
  if (bytesAre(b, start, end, 'path')) return KEY_PATH;
  if (bytesAre(b, start, end, 'mode')) return KEY_MODE;
  if (file && bytesAre(b, start, end, 'size')) return KEY_SIZE;
  if (file && bytesAre(b, start, end, 'sha256')) return KEY_SHA;
  return 0;
}

/** manifest.ts's path rule on bytes: 1..4096 bytes, relative, no empty, "." or ".." component (NUL cannot occur unescaped). */
function isCleanPath(b: Buffer, start: number, end: number): boolean {
  if (end - start < 1 || end - start > 4096 || b[start] === 0x2f) return false;
  let from = start;
  for (let i = start; i <= end; i++) {
    if (i < end && b[i] !== 0x2f) continue;
    const len = i - from;
    if (len === 0 || (b[from] === 0x2e && (len === 1 || (len === 2 && b[from + 1] === 0x2e)))) return false;
    from = i + 1;
  }
  return true;
}

/** The top-level members, as the parser met them (validated afterwards by manifest.ts). */
export interface ParsedManifest {
  members: Map<string, Json>;
  files: FileList;
  dirs: DirList;
  sawFiles: boolean;
}

type State = 'start' | 'member' | 'comma' | 'files' | 'filesComma' | 'dirs' | 'dirsComma' | 'done';

/**
 * Fed the manifest's bytes chunk by chunk. `onFile` / `onDir` validate one element each
 * (and throw to refuse); their results are appended to the lists. A duplicate path is
 * reported through `onDuplicate`.
 */
export class ManifestParser {
  private pending: Buffer = Buffer.alloc(0);
  private readonly plain: PlainEntry = { pathStart: 0, pathEnd: 0, size: 0, mode: 0, shaAt: 0 };
  private state: State = 'start';
  /** Document bytes fully used by steps so far: the document offset of `pending[0]`. */
  private consumed = 0;
  readonly result: ParsedManifest = { members: new Map(), files: new FileList(), dirs: new DirList(), sawFiles: false };

  constructor(
    private readonly element: {
      file: (raw: Json, index: number) => ManifestFile;
      dir: (raw: Json, index: number) => ManifestDir;
      duplicate: (path: string) => never;
      member: (key: string, value: Json) => void;
      /** After each element is added: may throw to refuse a manifest that lists too much. */
      added: (files: FileList, dirs: DirList) => void;
    },
  ) {}

  feed(chunk: Buffer): void {
    let offset = 0;
    if (this.pending.length > 0) {
      // Finish the pending value with as few of the chunk's bytes as it needs: copying whole
      // chunks behind it would allocate (and leave to the GC) as much as the manifest again.
      for (let k = Math.min(chunk.length, 4096); ; k = Math.min(chunk.length, k * 4)) {
        const buf = Buffer.concat([this.pending, chunk.subarray(0, k)]);
        const used = this.run(buf);
        if (k === chunk.length) return this.keep(buf, used);
        if (used > this.pending.length) {
          offset = used - this.pending.length;
          this.consumed += used;
          break;
        }
      }
    }
    const rest = chunk.subarray(offset);
    this.keep(rest, this.run(rest));
  }

  /** Take whole steps from `buf`; returns how many bytes they used. A step never half-happens. */
  private run(buf: Buffer): number {
    const cur = new Cursor(buf, 0, this.consumed);
    let mark = 0;
    try {
      for (;;) {
        mark = cur.pos;
        if (!this.step(cur)) break;
      }
      mark = cur.pos;
    } catch (err) {
      if (err !== INCOMPLETE) throw err;
    }
    return mark;
  }

  private keep(buf: Buffer, used: number): void {
    this.consumed += used;
    const rest = buf.length - used;
    if (rest > MAX_VALUE_BYTES) throw new ManifestSyntaxError(`a value larger than ${MAX_VALUE_BYTES} bytes`);
    // A copy: the tail must not pin the whole chunk it came from.
    this.pending = rest > 0 ? Buffer.from(buf.subarray(used)) : Buffer.alloc(0);
  }

  end(): ParsedManifest {
    const cur = new Cursor(this.pending, 0);
    if (this.state !== 'done') throw new ManifestSyntaxError('the document ends early');
    cur.ws();
    if (cur.pos !== this.pending.length) throw new ManifestSyntaxError('data after the document');
    return this.result;
  }

  /** One step of the top-level machine; false when the buffer is used up. */
  private step(cur: Cursor): boolean {
    switch (this.state) {
      case 'start':
        cur.expect(0x7b);
        if (cur.peek() === 0x7d) {
          cur.pos++;
          this.state = 'done';
        } else this.state = 'member';
        return true;
      case 'member': {
        const key = cur.string();
        cur.expect(0x3a);
        if (key === 'files' || key === 'dirs') {
          cur.expect(0x5b);
          const empty = cur.peek() === 0x5d;
          // Only now, with the step complete, change anything.
          if (this.result.members.has(key) || (key === 'files' && this.result.sawFiles)) {
            throw new ManifestSyntaxError(`"${key}" appears twice`);
          }
          if (key === 'files') this.result.sawFiles = true;
          else this.result.members.set('dirs', null);
          if (empty) {
            cur.pos++;
            this.state = 'comma';
          } else this.state = key;
          return true;
        }
        const value = cur.value();
        if (this.result.members.has(key)) throw new ManifestSyntaxError(`"${key}" appears twice`);
        this.element.member(key, value);
        this.result.members.set(key, value);
        this.state = 'comma';
        return true;
      }
      case 'comma': {
        const n = cur.peek();
        cur.pos++;
        if (n === 0x7d) this.state = 'done';
        else if (n === 0x2c) this.state = 'member';
        else throw new ManifestSyntaxError("expected ',' or '}'");
        return true;
      }
      case 'files':
      case 'dirs': {
        const { files, dirs } = this.result;
        const start = cur.pos;
        const p = this.plain;
        if (cur.plainEntry(this.state === 'files', p)) {
          const added =
            this.state === 'files'
              ? dirs.indexOfBytes(cur.buf, p.pathStart, p.pathEnd) < 0 &&
                files.addBytes(cur.buf, p.pathStart, p.pathEnd, p.mode, p.size, p.shaAt)
              : files.indexOfBytes(cur.buf, p.pathStart, p.pathEnd) < 0 && dirs.addBytes(cur.buf, p.pathStart, p.pathEnd, p.mode);
          if (!added) this.element.duplicate(decodeName(cur.buf.subarray(p.pathStart, p.pathEnd)));
          this.element.added(files, dirs);
          this.state = this.state === 'files' ? 'filesComma' : 'dirsComma';
          return true;
        }
        cur.pos = start;
        const raw = cur.value();
        if (this.state === 'files') {
          const f = this.element.file(raw, this.result.files.length);
          if (this.result.dirs.indexOf(f.path) >= 0 || !this.result.files.add(f)) this.element.duplicate(f.path);
        } else {
          const d = this.element.dir(raw, this.result.dirs.length);
          if (this.result.files.indexOf(d.path) >= 0 || !this.result.dirs.add(d)) this.element.duplicate(d.path);
        }
        this.element.added(files, dirs);
        this.state = this.state === 'files' ? 'filesComma' : 'dirsComma';
        return true;
      }
      case 'filesComma':
      case 'dirsComma': {
        const n = cur.peek();
        cur.pos++;
        if (n === 0x5d) this.state = 'comma';
        else if (n === 0x2c) this.state = this.state === 'filesComma' ? 'files' : 'dirs';
        else throw new ManifestSyntaxError("expected ',' or ']'");
        return true;
      }
      case 'done':
        cur.ws();
        if (cur.pos < cur.buf.length) throw new ManifestSyntaxError('data after the document');
        return false;
    }
  }
}

export type { Json };
