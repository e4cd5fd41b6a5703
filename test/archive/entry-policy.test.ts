/**
 * The reader's entry policy, rule by rule: one row per accepted shape and per refusal, each
 * with the reason the reader gives (the reader turns a refusal into `archive_invalid`).
 */
import { describe, expect, it } from 'vitest';
import { classifyEntry, type ArchiveSoFar, type EntryHeaders, type EntryVerdict } from '../../src/archive/entry-policy.js';
import type { ManifestDir, ManifestFile } from '../../src/archive/manifest.js';

const GiB = 1024 ** 3;
const notes: ManifestFile = { path: 'data/memory/notes.md', size: 8, mode: 0o644, sha256: 'a'.repeat(64) };
const empty: ManifestFile = { path: 'data/memory/empty', size: 0, mode: 0o644, sha256: 'b'.repeat(64) };
const huge: ManifestFile = { path: 'data/memory/huge', size: 9 * GiB, mode: 0o644, sha256: 'c'.repeat(64) };
const memory: ManifestDir = { path: 'data/memory', mode: 0o755 };

const beforeManifest: ArchiveSoFar = { listed: undefined, seen: new Set() };
const afterManifest: ArchiveSoFar = {
  listed: { files: new Map([notes, empty, huge].map((f) => [f.path, f])), dirs: new Map([[memory.path, memory]]) },
  seen: new Set(['data/memory/seen-already']),
};

const file = (name: string, size: number, more: Partial<EntryHeaders> = {}): EntryHeaders => ({
  name,
  linkTarget: '',
  type: '0',
  ustarSize: size,
  paxSize: undefined,
  ...more,
});
const dir = (name: string, more: Partial<EntryHeaders> = {}) => file(name, 0, { type: '5', ...more });

const cases: { rule: string; entry: EntryHeaders; so?: ArchiveSoFar; verdict: EntryVerdict }[] = [
  // Accepted.
  { rule: 'the manifest first', entry: file('MANIFEST.json', 100), so: beforeManifest, verdict: { kind: 'manifest', size: 100 } },
  { rule: 'a listed file of the listed size', entry: file(notes.path, 8), verdict: { kind: 'file', name: notes.path, file: notes } },
  {
    rule: "an old tar's '\\0' regular file",
    entry: file(notes.path, 8, { type: '\0' }),
    verdict: { kind: 'file', name: notes.path, file: notes },
  },
  { rule: 'a zero-size listed file', entry: file(empty.path, 0), verdict: { kind: 'file', name: empty.path, file: empty } },
  { rule: 'a listed directory', entry: dir('data/memory'), verdict: { kind: 'directory', name: 'data/memory', dir: memory } },
  {
    rule: 'a directory with trailing slashes',
    entry: dir('data/memory//'),
    verdict: { kind: 'directory', name: 'data/memory', dir: memory },
  },
  {
    rule: 'a pax size past the ustar field, ustar size 0',
    entry: file(huge.path, 0, { paxSize: 9 * GiB }),
    verdict: { kind: 'file', name: huge.path, file: huge },
  },
  {
    rule: 'a pax size equal to the ustar size',
    entry: file(notes.path, 8, { paxSize: 8 }),
    verdict: { kind: 'file', name: notes.path, file: notes },
  },
  // Header tricks.
  {
    rule: 'a pax size that disagrees with the ustar size',
    entry: file(notes.path, 8, { paxSize: 80 }),
    verdict: { kind: 'refused', reason: 'data/memory/notes.md: the pax size (80) and the ustar size (8) disagree' },
  },
  {
    rule: 'a small pax size with ustar size 0',
    entry: file(notes.path, 0, { paxSize: 8 }),
    verdict: { kind: 'refused', reason: 'data/memory/notes.md: the pax size (8) and the ustar size (0) disagree' },
  },
  {
    rule: 'a huge pax size with a non-zero ustar size',
    entry: file(huge.path, 5, { paxSize: 9 * GiB }),
    verdict: { kind: 'refused', reason: `data/memory/huge: the pax size (${9 * GiB}) and the ustar size (5) disagree` },
  },
  // Entry types, refused by name even when the manifest is not read yet.
  {
    rule: 'a hard link',
    entry: file('data/memory/l', 0, { type: '1', linkTarget: '/etc/passwd' }),
    so: beforeManifest,
    verdict: { kind: 'refused', reason: '"data/memory/l" is a hard link (to "/etc/passwd"); hoziron archives never contain links' },
  },
  {
    rule: 'a symbolic link',
    entry: file('data/memory/s', 0, { type: '2', linkTarget: '../../..' }),
    verdict: { kind: 'refused', reason: '"data/memory/s" is a symbolic link (to "../../.."); hoziron archives never contain links' },
  },
  {
    rule: 'a character device',
    entry: file('dev', 0, { type: '3' }),
    verdict: { kind: 'refused', reason: '"dev" is a character device entry' },
  },
  { rule: 'a block device', entry: file('dev', 0, { type: '4' }), verdict: { kind: 'refused', reason: '"dev" is a block device entry' } },
  { rule: 'a FIFO', entry: file('fifo', 0, { type: '6' }), verdict: { kind: 'refused', reason: '"fifo" is a FIFO entry' } },
  {
    rule: 'a contiguous file',
    entry: file('c', 0, { type: '7' }),
    verdict: { kind: 'refused', reason: '"c" has unsupported entry type "7"' },
  },
  {
    rule: 'a GNU sparse file',
    entry: file('s', 0, { type: 'S' }),
    verdict: { kind: 'refused', reason: '"s" has unsupported entry type "S"' },
  },
  // Names on their own.
  {
    rule: 'an absolute path',
    entry: file('/etc/cron.d/x', 1),
    verdict: { kind: 'refused', reason: 'entry "/etc/cron.d/x" is an absolute path' },
  },
  {
    rule: 'a Windows drive path',
    entry: file('C:\\x', 1),
    verdict: { kind: 'refused', reason: 'entry "C:\\\\x" is an absolute path' },
  },
  {
    rule: "a '..' component",
    entry: file('data/../../x', 1),
    verdict: { kind: 'refused', reason: 'entry "data/../../x" contains a \'..\' component' },
  },
  {
    rule: "a '.' component",
    entry: file('data/./x', 1),
    verdict: { kind: 'refused', reason: 'entry "data/./x" has an empty or \'.\' component' },
  },
  { rule: 'a NUL byte', entry: file('data/a\0b', 1), verdict: { kind: 'refused', reason: 'entry "data/a\\u0000b" contains a NUL byte' } },
  {
    rule: 'an unsafe name before the manifest',
    entry: file('../MANIFEST.json', 1),
    so: beforeManifest,
    verdict: { kind: 'refused', reason: 'entry "../MANIFEST.json" contains a \'..\' component' },
  },
  // The manifest.
  {
    rule: 'another entry first',
    entry: file(notes.path, 8),
    so: beforeManifest,
    verdict: { kind: 'refused', reason: 'the first entry must be MANIFEST.json, found "data/memory/notes.md"' },
  },
  {
    rule: 'a directory named MANIFEST.json first',
    entry: dir('MANIFEST.json'),
    so: beforeManifest,
    verdict: { kind: 'refused', reason: 'the first entry must be MANIFEST.json, found "MANIFEST.json"' },
  },
  {
    rule: 'a manifest over 48 MiB',
    entry: file('MANIFEST.json', 48 * 1024 * 1024 + 1),
    so: beforeManifest,
    verdict: { kind: 'refused', reason: `MANIFEST.json is ${48 * 1024 * 1024 + 1} bytes, more than the ${48 * 1024 * 1024} allowed` },
  },
  {
    rule: 'an empty manifest',
    entry: file('MANIFEST.json', 0),
    so: beforeManifest,
    verdict: { kind: 'refused', reason: 'MANIFEST.json is empty' },
  },
  { rule: 'a second manifest', entry: file('MANIFEST.json', 10), verdict: { kind: 'refused', reason: 'MANIFEST.json appears twice' } },
  // What the manifest lists.
  {
    rule: 'an entry seen before',
    entry: file('data/memory/seen-already', 1),
    verdict: { kind: 'refused', reason: 'entry "data/memory/seen-already" appears twice' },
  },
  {
    rule: 'an unlisted file',
    entry: file('data/memory/extra.md', 1),
    verdict: { kind: 'refused', reason: 'entry "data/memory/extra.md" is not listed in MANIFEST.json' },
  },
  {
    rule: 'a listed file as a directory',
    entry: dir(notes.path),
    verdict: { kind: 'refused', reason: 'entry "data/memory/notes.md"/ is not listed in MANIFEST.json' },
  },
  {
    rule: 'a listed directory as a file',
    entry: file('data/memory', 0),
    verdict: { kind: 'refused', reason: 'entry "data/memory" is not listed in MANIFEST.json' },
  },
  {
    rule: 'a directory with a size',
    entry: dir('data/memory', { ustarSize: 512 }),
    verdict: { kind: 'refused', reason: 'directory entry "data/memory" has a size' },
  },
  {
    rule: 'a file of another size than listed',
    entry: file(notes.path, 9),
    verdict: { kind: 'refused', reason: 'entry "data/memory/notes.md" is 9 bytes but MANIFEST.json says 8' },
  },
];

describe('classifyEntry', () => {
  it.each(cases)('$rule', ({ entry, so = afterManifest, verdict }) => {
    expect(classifyEntry(entry, so)).toEqual(verdict);
  });
});
