/**
 * Every refusal of the strict reader, one archive each (issue 10 item 13): the exact error
 * code and a fragment of the message, and nothing left behind by the stage. A representative
 * subset is also restored through the real CLI, and the home must be unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type * as Stage from '../../src/backup/stage.js';
import type * as Errors from '../../src/errors.js';
import { importBuilt, tempDir } from '../support/cli.js';
import { cli, makeHome, snapshotTree } from '../restore/support/home.js';
import { BASE, BLOCK, END, body, entry, header, manifestJson, pax, paxRecord, tarOf, type Listing } from './support/raw-tar.js';

// The compiled modules: extraction writes through a worker thread, which runs compiled code.
const { stageArchive } = await importBuilt<typeof Stage>('src/backup/stage.ts');
const { isHozironError } = await importBuilt<typeof Errors>('src/errors.ts');

let sandbox: { dir: string; cleanup: () => void };
beforeAll(() => {
  sandbox = tempDir('hoziron-refusals-');
});
afterAll(() => sandbox.cleanup());

const notes = BASE.files[0]!;
const withEntries = (...extra: Buffer[]) => tarOf(Buffer.concat([body(), ...extra]));
const ffName = Buffer.from('data/memory/\xff.md', 'latin1');
const withDirs = (...dirs: string[]): Listing => ({ ...BASE, dirs: [...BASE.dirs, ...dirs] });

type Case = { what: string; tar: () => Buffer; code?: string; message: string | RegExp; cli?: boolean };

const cases: Case[] = [
  // Header blocks
  {
    what: 'a bad header checksum',
    tar: () => withEntries(header({ name: 'data/memory/x', checksumSkew: 1 })),
    message: 'header checksum does not match',
    cli: true,
  },
  {
    what: 'a header without ustar magic',
    tar: () => withEntries(header({ name: 'data/memory/x', magic: 'ustax\x0000' })),
    message: 'not a ustar/pax header',
  },
  {
    what: 'a size field that is not a number',
    tar: () => withEntries(header({ name: 'data/memory/x', sizeField: '12z4\0' })),
    message: 'size field is not a number',
  },
  {
    what: 'a negative base-256 size',
    tar: () => withEntries(header({ name: 'data/memory/x', sizeField: Buffer.alloc(12, 0xff).toString('latin1') })),
    message: 'negative size field',
  },
  {
    what: 'a lone zero block between entries',
    tar: () => tarOf(Buffer.concat([Buffer.alloc(BLOCK), body()])),
    message: /unexpected zero block at offset \d+/,
    cli: true,
  },
  {
    what: 'a stream that ends before the end-of-archive marker',
    tar: () => tarOf().subarray(0, -2 * BLOCK),
    message: 'truncated (it ends before the end-of-archive marker)',
  },
  {
    what: 'a stream that ends inside a body',
    tar: () =>
      Buffer.concat([
        entry({ name: 'MANIFEST.json' }, manifestJson(BASE)),
        header({ name: 'data', type: '5' }),
        header({ name: 'data/memory', type: '5' }),
        header({ name: notes.path, size: 8 }),
      ]),
    message: 'truncated (it ends in the middle of data/memory/notes.md)',
  },
  // Extended headers
  {
    what: 'a pax record whose length does not match',
    tar: () => withEntries(entry({ name: 'PaxHeader', type: 'x' }, '99 path=x\n'), header({ name: 'x' })),
    message: 'malformed pax record',
  },
  {
    what: 'a pax record length that is not a number',
    tar: () => withEntries(entry({ name: 'PaxHeader', type: 'x' }, '1x path=x\n'), header({ name: 'x' })),
    message: 'malformed pax record length',
  },
  {
    what: 'a pax record without "="',
    tar: () => withEntries(entry({ name: 'PaxHeader', type: 'x' }, '9 pathx\n'), header({ name: 'x' })),
    message: 'malformed pax record',
  },
  {
    what: 'a pax key given twice',
    tar: () => withEntries(pax(paxRecord('path', 'data/memory/a'), paxRecord('path', 'data/memory/b')), header({ name: 'x' })),
    message: 'pax key path given twice',
    cli: true,
  },
  {
    what: 'two pax headers for one entry',
    tar: () => withEntries(pax(paxRecord('mtime', '1')), pax(paxRecord('mtime', '2')), header({ name: 'x' })),
    message: 'two extended headers of type x for one entry',
  },
  {
    what: 'an oversized extended header',
    tar: () => withEntries(header({ name: 'PaxHeader', type: 'x', size: 2 * 1024 * 1024 })),
    message: /an extended header of 2097152 bytes at offset \d+ is too large/,
  },
  {
    what: 'an oversized GNU long name',
    tar: () => withEntries(header({ name: '././@LongLink', type: 'L', size: 1024 * 1024 + 1 })),
    message: 'is too large',
  },
  {
    what: 'an extended header followed by the end marker',
    tar: () => withEntries(pax(paxRecord('path', 'data/memory/a'))),
    message: 'an extended header is not followed by an entry',
  },
  {
    what: 'an invalid pax size',
    tar: () => withEntries(pax(paxRecord('size', '-5')), header({ name: 'data/memory/x' })),
    message: 'invalid pax size "-5"',
  },
  {
    what: 'pax and ustar sizes that disagree',
    tar: () =>
      tarOf(Buffer.concat([body({ ...BASE, files: [] }), pax(paxRecord('size', '3')), entry({ name: notes.path }, notes.content)])),
    message: 'the pax size (3) and the ustar size (8) disagree',
  },
  {
    what: 'a pax path that is not UTF-8 without hdrcharset=BINARY',
    tar: () => withEntries(pax(paxRecord('path', ffName)), header({ name: 'x' })),
    message: /a pax path at offset \d+ is not valid UTF-8/,
    cli: true,
  },
  {
    what: 'an unknown pax hdrcharset',
    tar: () => withEntries(pax(paxRecord('hdrcharset', 'EBCDIC'), paxRecord('path', ffName)), header({ name: 'x' })),
    message: 'unknown pax hdrcharset "EBCDIC"',
  },
  {
    what: 'an unlisted non-UTF-8 name (named with \\xNN)',
    tar: () => withEntries(pax(paxRecord('hdrcharset', 'BINARY'), paxRecord('path', ffName)), header({ name: 'x' })),
    message: 'entry "data/memory/\\\\xff.md" is not listed in MANIFEST.json',
  },
  {
    what: 'an unlisted non-UTF-8 GNU long name',
    tar: () =>
      withEntries(
        entry({ name: '././@LongLink', type: 'L', magic: 'ustar  \0' }, Buffer.concat([ffName, Buffer.of(0)])),
        header({ name: 'x', magic: 'ustar  \0' }),
      ),
    message: 'entry "data/memory/\\\\xff.md" is not listed',
  },
  // Names
  {
    what: 'a NUL byte in a pax path',
    tar: () => withEntries(pax(paxRecord('path', 'data/memory/a\0b')), header({ name: 'x' })),
    message: 'entry "data/memory/a\\u0000b" contains a NUL byte',
  },
  {
    what: 'a Windows absolute path',
    tar: () => withEntries(entry({ name: 'C:\\Windows\\x' }, 'x')),
    message: 'entry "C:\\\\Windows\\\\x" is an absolute path',
    cli: true,
  },
  { what: 'an absolute path', tar: () => withEntries(entry({ name: '/etc/x' }, 'x')), message: 'entry "/etc/x" is an absolute path' },
  {
    what: 'an empty component',
    tar: () => withEntries(entry({ name: 'data//memory/x' }, 'x')),
    message: `entry "data//memory/x" has an empty or '.' component`,
  },
  { what: 'a "." component', tar: () => withEntries(entry({ name: 'data/./memory/x' }, 'x')), message: `has an empty or '.' component` },
  {
    what: 'an empty name',
    tar: () => withEntries(pax(paxRecord('path', '')), header({ name: 'x' })),
    message: `entry "" has an empty or '.' component`,
  },
  {
    what: 'a ".." component',
    tar: () => withEntries(entry({ name: 'data/../../x' }, 'x')),
    message: `entry "data/../../x" contains a '..' component`,
  },
  // Entry types
  {
    what: 'an unknown entry type',
    tar: () => withEntries(header({ name: 'data/memory/x', type: 'S' })),
    message: '"data/memory/x" has unsupported entry type "S"',
    cli: true,
  },
  {
    what: 'a global pax header',
    tar: () => withEntries(entry({ name: 'g', type: 'g' }, paxRecord('comment', 'x'))),
    message: 'has unsupported entry type "g"',
  },
  {
    what: 'a contiguous file',
    tar: () => withEntries(header({ name: 'data/memory/x', type: '7' })),
    message: 'has unsupported entry type "7"',
  },
  {
    what: 'a character device',
    tar: () => withEntries(header({ name: 'data/memory/tty', type: '3' })),
    message: '"data/memory/tty" is a character device entry',
  },
  { what: 'a hard link', tar: () => withEntries(header({ name: 'data/memory/h', type: '1' })), message: 'is a hard link' },
  // MANIFEST.json itself
  {
    what: 'a first entry that is not MANIFEST.json',
    tar: () => Buffer.concat([body(), END]),
    message: 'the first entry must be MANIFEST.json, found "data"',
  },
  {
    what: 'MANIFEST.json as a directory',
    tar: () => Buffer.concat([header({ name: 'MANIFEST.json', type: '5' }), END]),
    message: 'the first entry must be MANIFEST.json',
  },
  {
    what: 'an empty MANIFEST.json',
    tar: () => Buffer.concat([header({ name: 'MANIFEST.json' }), body(), END]),
    message: 'MANIFEST.json is empty',
    cli: true,
  },
  {
    what: 'an oversized MANIFEST.json',
    tar: () => Buffer.concat([header({ name: 'MANIFEST.json', size: 48 * 1024 * 1024 + 1 }), END]),
    message: 'MANIFEST.json is 50331649 bytes, more than the 50331648 allowed',
  },
  {
    what: 'a second MANIFEST.json',
    tar: () => withEntries(entry({ name: 'MANIFEST.json' }, manifestJson(BASE))),
    message: 'MANIFEST.json appears twice',
  },
  {
    what: 'a MANIFEST.json that is not UTF-8',
    tar: () => Buffer.concat([entry({ name: 'MANIFEST.json' }, Buffer.from('{"format":1,"host":"\xff"}', 'latin1')), body(), END]),
    message: /MANIFEST.json at offset \d+ is not valid UTF-8/,
  },
  { what: 'a MANIFEST.json that is not JSON', tar: () => tarOf(body(), BASE, '{"format":1,'), message: 'MANIFEST.json is not valid JSON' },
  {
    what: 'a newer format',
    tar: () => tarOf(body(), BASE, manifestJson(BASE, { format: 2 })),
    code: 'unsupported_version',
    message: 'archive format 2 is newer than this hoziron understands',
  },
  {
    what: 'a manifest against the schema',
    tar: () => tarOf(body(), BASE, manifestJson(BASE, { scope: 'everything' })),
    message: 'MANIFEST.json: scope:',
  },
  {
    what: 'a path listed twice',
    tar: () => tarOf(body(), BASE, manifestJson(withDirs('data/memory'))),
    message: 'MANIFEST.json lists data/memory twice',
  },
  {
    what: 'a path below a listed file',
    tar: () => tarOf(body(), BASE, manifestJson({ ...BASE, files: [...BASE.files, { path: `${notes.path}/x`, content: '' }] })),
    message: 'whose parent "data/memory/notes.md" is a file',
  },
  {
    what: 'a path outside the scope',
    tar: () => tarOf(body(), BASE, manifestJson({ ...BASE, files: [...BASE.files, { path: 'config.toml', content: '' }] })),
    message: 'MANIFEST.json lists "config.toml", which is outside the agents backup scope',
  },
  {
    what: 'a lone surrogate in a manifest path',
    tar: () => tarOf(body(), BASE, manifestJson(withDirs('data/memory/\udcff'))),
    message: 'dirs.2.path: holds a lone surrogate',
  },
  {
    what: 'a path_b64 that spells a UTF-8 name',
    tar: () => tarOf(body(), BASE, manifestJson({ ...BASE, files: [{ ...notes, path_b64: Buffer.from(notes.path).toString('base64') }] })),
    message: 'a UTF-8 name must be given as path',
  },
  // Entries against the manifest
  {
    what: 'an unlisted directory',
    tar: () => withEntries(header({ name: 'data/memory/extra', type: '5' })),
    message: 'entry "data/memory/extra"/ is not listed in MANIFEST.json',
    cli: true,
  },
  {
    what: 'a directory with a size',
    tar: () => tarOf(Buffer.concat([body({ ...BASE, dirs: ['data'] }), entry({ name: 'data/memory', type: '5' }, 'xxxx')]), BASE),
    message: 'directory entry "data/memory" has a size',
  },
  {
    what: 'a duplicate entry',
    tar: () => withEntries(entry({ name: notes.path }, notes.content)),
    message: 'entry "data/memory/notes.md" appears twice',
  },
  {
    what: 'a listed directory missing',
    tar: () => tarOf(body(), BASE, manifestJson(withDirs('data/memory/gone'))),
    message: 'data/memory/gone/ is listed in MANIFEST.json but missing from the archive',
  },
  {
    what: 'a listed file missing',
    tar: () => tarOf(body({ ...BASE, files: [] }), BASE),
    message: 'data/memory/notes.md is listed in MANIFEST.json but missing from the archive',
  },
  {
    what: 'a size other than the manifest says',
    tar: () => tarOf(Buffer.concat([body({ ...BASE, files: [] }), entry({ name: notes.path }, 'short')])),
    message: 'entry "data/memory/notes.md" is 5 bytes but MANIFEST.json says 8',
  },
  {
    what: 'a body that is not the manifest SHA-256',
    tar: () => tarOf(Buffer.concat([body({ ...BASE, files: [] }), entry({ name: notes.path }, '# NOTES\n')])),
    message: 'entry "data/memory/notes.md" does not match its SHA-256 in MANIFEST.json',
  },
  {
    what: 'non-zero bytes after the end marker',
    tar: () => Buffer.concat([tarOf(), Buffer.from('junk')]),
    message: 'unexpected data after the end-of-archive marker',
  },
];

function write(name: string, tar: Buffer): string {
  const path = join(sandbox.dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.tar.gz`);
  writeFileSync(path, gzipSync(tar));
  return path;
}

describe('the strict reader refuses, naming the rule', () => {
  it.each(cases.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const archive = write(c.what, c.tar());
    const dest = join(sandbox.dir, 'stage');
    let err: unknown;
    await stageArchive(archive, dest, {}).catch((e: unknown) => (err = e));
    expect(isHozironError(err), String(err)).toBe(true);
    expect((err as { code: string }).code).toBe(c.code ?? 'archive_invalid');
    const message = (err as Error).message;
    expect(message.startsWith(`${archive}: `), message).toBe(true);
    if (typeof c.message === 'string') expect(message).toContain(c.message);
    else expect(message).toMatch(c.message);
    expect(existsSync(dest)).toBe(false);
  });

  it('accepts what is valid: a non-UTF-8 name listed by path_b64, in ustar, pax (BINARY) or a GNU long name', async () => {
    const l: Listing = {
      ...BASE,
      files: [...BASE.files, { path: 'data/memory/\\xff.md', path_b64: ffName.toString('base64'), content: 'ff' }],
    };
    const ffEntry = entry({ name: 'x' }, 'ff');
    for (const [how, named] of [
      ['ustar', body(l)],
      ['pax', Buffer.concat([body(BASE), pax(paxRecord('hdrcharset', 'BINARY'), paxRecord('path', ffName)), ffEntry])],
      ['GNU', Buffer.concat([body(BASE), entry({ name: '././@LongLink', type: 'L', magic: 'ustar  \0' }, ffName), ffEntry])],
    ] as const) {
      const dest = join(sandbox.dir, `ok-${how}`);
      const r = await stageArchive(write(`ok-${how}`, tarOf(named, l)), dest, {});
      expect(r.manifest.files).toHaveLength(2);
      expect(
        readdirSync(join(dest, 'data/memory'), { encoding: 'buffer' })
          .map((b) => b.toString('latin1'))
          .sort(),
      ).toEqual(['notes.md', '\xff.md']);
    }
  });
});

/**
 * `tar` with `data/hoziron.db` added to its manifest's files: a restore's preflight refuses an
 * agents archive whose manifest lacks the memory database before the reader sees an entry, and
 * these cases are about the reader. The database itself never comes: the reader refuses first.
 * An archive whose manifest is not JSON is left as it is.
 */
function listMemoryDb(tar: Buffer): Buffer {
  const size = Number.parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim(), 8);
  const first = BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  let manifest: { files: unknown[] };
  try {
    manifest = JSON.parse(tar.subarray(BLOCK, BLOCK + size).toString('utf8')) as { files: unknown[] };
  } catch {
    return tar; // no manifest to extend: the reader refuses it as it is
  }
  manifest.files.push({ path: 'data/hoziron.db', size: 4096, mode: 0o600, sha256: '0'.repeat(64) });
  return Buffer.concat([entry({ name: 'MANIFEST.json', mode: 0o600 }, JSON.stringify(manifest)), tar.subarray(first)]);
}

describe('refused archives leave the home unchanged (through the real CLI)', () => {
  let home: string;
  let before: Record<string, string>;
  beforeAll(async () => {
    home = join(sandbox.dir, 'home');
    mkdirSync(sandbox.dir, { recursive: true });
    await makeHome(home, 1);
    before = snapshotTree(home, []);
  });

  it.each(cases.filter((c) => c.cli).map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const archive = write(`cli-${c.what}`, listMemoryDb(c.tar()));
    const r = await cli(home, 'backup', 'restore', archive, '--confirm', '--no-verify');
    expect(r.code).toBe(1);
    if (typeof c.message === 'string') expect(r.stderr).toContain(c.message);
    else expect(r.stderr).toMatch(c.message);
    expect(snapshotTree(home, [])).toEqual(before);
  });
});
