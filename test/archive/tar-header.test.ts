/**
 * The ustar/pax header encoder, checked three ways: our own parser must give back every
 * field, and GNU tar and Python's tarfile (independent readers) must list and extract the
 * same names, sizes, modes and mtimes without a word on stderr.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK, encodeHeader, parseHeader, parsePax, type EntryHeader } from '../../src/archive/tar-header.js';

const GiB = 1024 ** 3;
const MTIME = new Date('2024-05-06T07:08:09Z');

/** What a reader ends up with for one entry, pax records applied over the ustar block. */
interface Decoded {
  name: Buffer;
  type: string;
  size: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  pax: Map<string, Buffer> | undefined;
  /** The bytes the header took (pax block, records, padding, ustar block). */
  length: number;
}

/** Decode the header blocks `encodeHeader` wrote, with our parser. */
function decode(blocks: Buffer): Decoded {
  let at = 0;
  let pax: Map<string, Buffer> | undefined;
  let h = parseHeader(blocks.subarray(0, BLOCK));
  if (h.type === 'x') {
    pax = parsePax(blocks.subarray(BLOCK, BLOCK + h.size));
    at = BLOCK + Math.ceil(h.size / BLOCK) * BLOCK;
    h = parseHeader(blocks.subarray(at, at + BLOCK));
  }
  const fromPax = (key: string) => (pax?.has(key) ? Number(pax.get(key)!.toString()) : undefined);
  return {
    name: pax?.get('path') ?? h.name,
    type: h.type,
    size: fromPax('size') ?? h.size,
    mode: h.mode,
    mtime: fromPax('mtime') ?? h.mtime!,
    uid: fromPax('uid') ?? h.uid!,
    gid: fromPax('gid') ?? h.gid!,
    pax,
    length: at + BLOCK,
  };
}

const entry = (name: string | Buffer, more: Partial<EntryHeader> = {}): EntryHeader => ({
  name,
  type: 'file',
  size: 0,
  mode: 0o644,
  mtime: MTIME,
  ...more,
});

// Names that exercise every branch of the name encoding.
const deep = Array.from({ length: 40 }, (_, i) => `level-${i}`).join('/') + '/leaf.txt'; // > 255 bytes
const NAMES: { what: string; name: string; pax: boolean }[] = [
  { what: 'a short ASCII name', name: 'data/agents/a1/agent.toml', pax: false },
  { what: 'exactly 100 bytes', name: 'n'.repeat(100), pax: false },
  { what: '101 bytes, split into prefix and name', name: `${'p'.repeat(50)}/${'n'.repeat(50)}`, pax: false },
  { what: 'the longest ustar split (155 + 1 + 100)', name: `${'p'.repeat(155)}/${'n'.repeat(100)}`, pax: false },
  { what: 'a prefix of 156 bytes', name: `${'p'.repeat(156)}/${'n'.repeat(10)}`, pax: true },
  { what: 'a last component of 101 bytes', name: `dir/${'n'.repeat(101)}`, pax: true },
  { what: 'a deep path over 255 bytes', name: deep, pax: true },
  { what: 'é (NFC)', name: 'data/caf\u00e9.md', pax: true },
  { what: 'é (NFD)', name: 'data/cafe\u0301.md', pax: true },
  { what: 'CJK', name: 'data/日本語/メモ.md', pax: true },
  { what: 'emoji', name: 'data/🙂/👩‍👩‍👧.txt', pax: true },
];

describe('encodeHeader, read back by our parser', () => {
  it.each(NAMES)('keeps $what byte for byte (pax: $pax)', ({ name, pax }) => {
    const blocks = encodeHeader(entry(name, { size: 12345, mode: 0o640 }));
    const d = decode(blocks);
    expect(d.name.toString('utf8')).toBe(name);
    expect(d.pax !== undefined).toBe(pax);
    expect(d.length).toBe(blocks.length);
    expect({ type: d.type, size: d.size, mode: d.mode, mtime: d.mtime, uid: d.uid, gid: d.gid }).toEqual({
      type: '0',
      size: 12345,
      mode: 0o640,
      mtime: MTIME.getTime() / 1000,
      uid: 0,
      gid: 0,
    });
  });

  it('writes a directory and a zero-size file as single ustar blocks', () => {
    const dir = encodeHeader(entry('data/agents', { type: 'directory', mode: 0o755 }));
    expect(dir.length).toBe(BLOCK);
    expect(decode(dir)).toMatchObject({ type: '5', size: 0, mode: 0o755 });
    const empty = encodeHeader(entry('data/empty'));
    expect(empty.length).toBe(BLOCK);
    expect(decode(empty)).toMatchObject({ type: '0', size: 0 });
  });

  it('puts a size of 8 GiB or more in a pax record and 0 in the ustar field, which the reader accepts', () => {
    const largestOctal = 8 * GiB - 1;
    const fits = encodeHeader(entry('big', { size: largestOctal }));
    expect(fits.length).toBe(BLOCK);
    expect(decode(fits).size).toBe(largestOctal);
    for (const size of [8 * GiB, 8 * GiB + 1, 5000 * GiB, Number.MAX_SAFE_INTEGER]) {
      const blocks = encodeHeader(entry('big', { size }));
      const d = decode(blocks);
      expect(d.pax?.get('size')?.toString()).toBe(String(size));
      expect(d.size).toBe(size);
      // The ustar size field says 0: the one disagreement the strict reader allows.
      expect(parseHeader(blocks.subarray(d.length - BLOCK, d.length)).size).toBe(0);
    }
  });

  it('puts an mtime before 1970 or after 2242, and a uid or gid past 7 octal digits, in pax records', () => {
    const cases: [Partial<EntryHeader>, string, number][] = [
      [{ mtime: new Date('1960-01-01T00:00:00Z') }, 'mtime', -315619200],
      [{ mtime: new Date('2300-01-01T00:00:00Z') }, 'mtime', 10413792000],
      [{ uid: 0o7777777 + 1 }, 'uid', 0o7777777 + 1],
      [{ gid: 4_000_000_000 }, 'gid', 4_000_000_000],
    ];
    for (const [more, key, value] of cases) {
      const d = decode(encodeHeader(entry('f', more)));
      expect(d.pax?.get(key)?.toString()).toBe(String(value));
      expect(d[key as 'mtime' | 'uid' | 'gid']).toBe(value);
      expect(d.pax?.has('path')).toBe(false);
    }
    expect(decode(encodeHeader(entry('f', { uid: 0o7777777 }))).pax).toBeUndefined();
  });

  it('keeps whole seconds of the mtime and only the permission bits of the mode', () => {
    const d = decode(encodeHeader(entry('f', { mtime: new Date(1_700_000_000_999), mode: 0o100755 })));
    expect(d.mtime).toBe(1_700_000_000);
    expect(d.mode).toBe(0o755);
  });

  it('gets the self-counting pax record length right where it gains a digit', () => {
    // A path record of `n` name bytes is n + 8 or n + 9 bytes long: cross 100 and 1000.
    for (const n of [...Array.from({ length: 8 }, (_, i) => 88 + i), ...Array.from({ length: 8 }, (_, i) => 987 + i)]) {
      const name = `é${'x'.repeat(n - 2)}`;
      const d = decode(encodeHeader(entry(name)));
      expect(d.name.toString()).toBe(name);
    }
  });

  it('writes a name that is not UTF-8 byte-exact: in the ustar block when it fits, else pax hdrcharset=BINARY', () => {
    const name = Buffer.from([0x64, 0x2f, 0x66, 0xff, 0xfe, 0x2e, 0x6d, 0x64]); // "d/f\xff\xfe.md"
    const short = decode(encodeHeader(entry(name)));
    expect(short.name.equals(name)).toBe(true);
    expect(short.pax).toBeUndefined(); // raw bytes in the ustar name, as GNU tar writes them
    const long = Buffer.concat([Buffer.from(`data/${'d'.repeat(160)}/`), Buffer.from([0xff]), Buffer.from('x'.repeat(100))]);
    const d = decode(encodeHeader(entry(long)));
    expect(d.name.equals(long)).toBe(true);
    expect(d.pax?.get('hdrcharset')?.toString()).toBe('BINARY');
    // Valid UTF-8 given as bytes is a plain UTF-8 path, like the same string.
    const utf8 = encodeHeader(entry(Buffer.from('data/café.md')));
    expect(utf8.equals(encodeHeader(entry('data/café.md')))).toBe(true);
    expect(decode(utf8).pax?.has('hdrcharset')).toBe(false);
  });

  it('never writes a non-ASCII byte into the ustar name of a pax entry', () => {
    const blocks = encodeHeader(entry('data/日本語/メモ.md'));
    const d = decode(blocks);
    const ustarName = parseHeader(blocks.subarray(d.length - BLOCK, d.length)).name;
    expect([...ustarName].every((b) => b >= 0x20 && b <= 0x7e)).toBe(true);
  });

  it('refuses what it cannot write faithfully: empty names, NUL bytes, lone surrogates, bad numbers', () => {
    expect(() => encodeHeader(entry(''))).toThrow(/empty or holds a NUL/);
    expect(() => encodeHeader(entry('a\0b'))).toThrow(/empty or holds a NUL/);
    expect(() => encodeHeader(entry('bad\ud800name'))).toThrow(/not well-formed Unicode/);
    expect(() => encodeHeader(entry('f', { size: -1 }))).toThrow(/invalid size/);
    expect(() => encodeHeader(entry('f', { size: 1.5 }))).toThrow(/invalid size/);
    expect(() => encodeHeader(entry('f', { uid: -1 }))).toThrow(/invalid uid/);
    expect(() => encodeHeader(entry('f', { mtime: new Date(NaN) }))).toThrow(/invalid mtime/);
  });
});

// ---------------------------------------------------------------------------------------
// Independent readers: GNU tar and Python's tarfile.

const work = mkdtempSync(join(tmpdir(), 'hoziron-tar-header-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let archives = 0;

interface TestEntry {
  header: EntryHeader;
  body?: Buffer;
}

/** A tar file of `entries` (bodies written in full), with the end-of-archive blocks. */
function writeTar(entries: TestEntry[]): string {
  const parts: Buffer[] = [];
  for (const { header, body = Buffer.alloc(0) } of entries) {
    parts.push(encodeHeader({ ...header, size: body.length }), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  const path = join(work, `t${archives++}.tar`);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

const env = { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' };

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  expect(r.stderr, `${cmd} ${args.join(' ')} wrote to stderr`).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

interface Listed {
  name: string;
  size: number;
  mode: string;
  mtime: string;
}

/** `tar -tv --full-time`, one object per entry. */
function gnuList(tarPath: string): Listed[] {
  const out = run('tar', ['--quoting-style=literal', '--full-time', '-tvf', tarPath]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S{10}) 0\/0 +(\d+) (\S+ \S+) (.*)$/.exec(line);
      if (!m) throw new Error(`unexpected tar -tv line: ${line}`);
      return { mode: m[1]!, size: Number(m[2]), mtime: m[3]!, name: m[4]! };
    });
}

interface PyMember {
  name: string; // hex of the name's bytes
  size: number;
  mode: number;
  mtime: number;
  type: string;
}

/** Python's tarfile listing, with warnings turned into errors. */
function pythonList(tarPath: string): PyMember[] {
  const script = `
import json, os, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    print(json.dumps([{'name': os.fsencode(m.name).hex(), 'size': m.size, 'mode': m.mode,
        'mtime': m.mtime, 'type': m.type.decode()} for m in t]))`;
  return JSON.parse(run('python3', ['-W', 'error', '-c', script, tarPath])) as PyMember[];
}

const hex = (name: string | Buffer) => Buffer.from(name).toString('hex');
const gnuTime = (d: Date) =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');

describe('archives from encodeHeader, read by GNU tar and Python tarfile', () => {
  const dirs = ['data', 'data/日本語', 'data/🙂', `data/${'d'.repeat(120)}`];
  const files: { name: string; body: Buffer; mode: number }[] = [
    ...NAMES.map(({ name }, i) => ({ name: `data/${name}`, body: Buffer.from(`body ${i}\n`.repeat(i + 1)), mode: 0o640 })),
    { name: `data/${'d'.repeat(120)}/${'n'.repeat(100)}`, body: Buffer.alloc(1000, 7), mode: 0o600 },
    { name: 'data/empty', body: Buffer.alloc(0), mode: 0o644 },
    { name: 'data/block', body: Buffer.alloc(BLOCK, 1), mode: 0o755 },
  ];
  const entries: TestEntry[] = [
    ...dirs.map((name) => ({ header: entry(name, { type: 'directory', mode: 0o755 }) })),
    ...files.map(({ name, body, mode }) => ({ header: entry(name, { mode }), body })),
  ];

  it('GNU tar lists every name, size, mode and mtime, silently', () => {
    const listed = gnuList(writeTar(entries));
    expect(listed).toEqual([
      ...dirs.map((name) => ({ name, size: 0, mode: 'drwxr-xr-x', mtime: gnuTime(MTIME) })),
      ...files.map(({ name, body, mode }) => ({
        name,
        size: body.length,
        mode: mode === 0o640 ? '-rw-r-----' : mode === 0o600 ? '-rw-------' : mode === 0o755 ? '-rwxr-xr-x' : '-rw-r--r--',
        mtime: gnuTime(MTIME),
      })),
    ]);
  });

  it('GNU tar extracts the same bytes under the same names, modes and mtimes, silently', () => {
    const out = mkdtempSync(join(work, 'x-'));
    run('tar', ['-xf', writeTar(entries), '-C', out]);
    for (const { name, body, mode } of files) {
      const path = join(out, name);
      expect(readFileSync(path).equals(body), name).toBe(true);
      const st = statSync(path);
      expect(st.mode & 0o777).toBe(mode);
      expect(st.mtimeMs).toBe(MTIME.getTime());
    }
    // NFC and NFD spellings of é are two different files, as in the archive.
    expect(readdirSync(join(out, 'data', 'data')).filter((n) => n.startsWith('caf'))).toHaveLength(2);
  });

  it('Python tarfile reads every name, size, mode, mtime and type, without warnings', () => {
    expect(pythonList(writeTar(entries))).toEqual([
      ...dirs.map((name) => ({ name: hex(name), size: 0, mode: 0o755, mtime: MTIME.getTime() / 1000, type: '5' })),
      ...files.map(({ name, body, mode }) => ({ name: hex(name), size: body.length, mode, mtime: MTIME.getTime() / 1000, type: '0' })),
    ]);
  });

  it('both read mtimes before 1970 and after 2242 from the pax record', () => {
    const times = [new Date('1960-01-01T00:00:00Z'), new Date('2300-01-01T00:00:00Z')];
    const path = writeTar(times.map((mtime, i) => ({ header: entry(`t${i}`, { mtime }), body: Buffer.from('t') })));
    expect(gnuList(path).map((l) => l.mtime)).toEqual(times.map(gnuTime));
    expect(pythonList(path).map((m) => m.mtime)).toEqual(times.map((t) => t.getTime() / 1000));
  });

  it('both read a size beyond 8 GiB from the pax record (a sparse archive; the body is a hole)', () => {
    const size = 8 * GiB + 12345;
    const head = encodeHeader(entry('data/huge.bin', { size, mode: 0o600 }));
    const path = join(work, 'huge.tar');
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, head, 0, head.length, 0);
      writeSync(fd, Buffer.alloc(2 * BLOCK), 0, 2 * BLOCK, head.length + Math.ceil(size / BLOCK) * BLOCK);
    } finally {
      closeSync(fd);
    }
    expect(gnuList(path)).toEqual([{ name: 'data/huge.bin', size, mode: '-rw-------', mtime: gnuTime(MTIME) }]);
    expect(pythonList(path)).toEqual([{ name: hex('data/huge.bin'), size, mode: 0o600, mtime: MTIME.getTime() / 1000, type: '0' }]);
  });

  it('both extract a name that is not UTF-8 to exactly its bytes (a short one without any warning)', () => {
    const name = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x6d, 0x64]); // "f\xff\xfe.md"
    const long = Buffer.concat([Buffer.from('l'.repeat(120)), Buffer.from([0xe9])]); // pax, hdrcharset=BINARY
    const path = writeTar([name, long].map((n) => ({ header: entry(n), body: Buffer.from('binary name') })));
    expect(pythonList(path).map((m) => m.name)).toEqual([name.toString('hex'), long.toString('hex')]);
    const out = mkdtempSync(join(work, 'bin-'));
    const r = spawnSync('tar', ['-xf', path, '-C', out], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    // GNU tar (1.34) does not know the POSIX keyword hdrcharset and says so (the long name only).
    expect(r.stderr).toBe("tar: Ignoring unknown extended header keyword 'hdrcharset'\n");
    expect(readdirSync(out, { encoding: 'buffer' }).sort((a, b) => Buffer.compare(a, b))).toEqual(
      [name, long].sort((a, b) => Buffer.compare(a, b)),
    );
  });
});
