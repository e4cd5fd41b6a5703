import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  decodeManifestNames,
  decodeName,
  displayName,
  encodeName,
  fsPath,
  isUtf8,
  manifestNameReplacer,
} from '../../src/archive/entry-name.js';
import { parseManifest } from '../../src/archive/manifest.js';

const manifest = (files: object[]) => ({
  format: 1,
  id: '6f1c2a54-0000-4000-8000-000000000000',
  created_at: '2026-06-05T02:00:00.000Z',
  scope: 'agents',
  hoziron_version: '0.1.0',
  host: 'h',
  files,
  dirs: [],
  audit_head: null,
});
const line = (path: string) => ({ path, size: 0, mode: 420, sha256: '0'.repeat(64) });

describe('entry names as bytes', () => {
  it('decodes and encodes any bytes one-to-one, leaving UTF-8 names as they are', () => {
    expect(decodeName(Buffer.from('data/café.md'))).toBe('data/café.md');
    expect(decodeName(Buffer.from([0x61, 0xff, 0xfe]))).toBe('a\udcff\udcfe');
    // Overlong, encoded-surrogate and truncated sequences are bytes, not characters.
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x82],
      [0xf4, 0x90, 0x80, 0x80],
      [0xef, 0xbb, 0xbf, 0xff],
    ]) {
      const b = Buffer.from(bad);
      expect(encodeName(decodeName(b))).toEqual(b);
    }
    const seen = new Map<string, string>();
    for (let i = 0; i < 5000; i++) {
      const b = randomBytes(1 + (i % 12));
      const name = decodeName(b);
      expect(encodeName(name).equals(b), b.toString('hex')).toBe(true);
      const other = seen.get(name);
      if (other !== undefined) expect(other).toBe(b.toString('hex'));
      seen.set(name, b.toString('hex'));
    }
  });

  it('keeps a leading byte-order mark (a name may start with U+FEFF)', () => {
    expect(encodeName(decodeName(Buffer.from('\ufeffx')))).toEqual(Buffer.from('\ufeffx'));
  });

  it('refuses to encode a lone surrogate that no byte decodes to', () => {
    expect(() => encodeName('a\ud800')).toThrow(/lone surrogate/);
    expect(() => encodeName('a\udc41')).toThrow(/lone surrogate/);
  });

  it('shows raw bytes as \\xNN and gives the file system a Buffer path for them', () => {
    const name = decodeName(Buffer.from([0x66, 0xff]));
    expect(displayName(name)).toBe('f\\xff');
    expect(fsPath('/h', 'data/x')).toBe('/h/data/x');
    expect(fsPath('/h/', `data/${name}`)).toEqual(Buffer.concat([Buffer.from('/h/data/f'), Buffer.from([0xff])]));
  });

  it('writes a non-UTF-8 path as path_b64 beside its display form, and parses it back', () => {
    const name = decodeName(Buffer.from([0x64, 0x61, 0x74, 0x61, 0x2f, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x73, 0x2f, 0xff]));
    const json = JSON.stringify(manifest([line(name), line('data/agents/plain')]), manifestNameReplacer);
    const written = JSON.parse(json) as { files: object[] };
    expect(written.files[0]).toMatchObject({ path: 'data/agents/\\xff', path_b64: 'ZGF0YS9hZ2VudHMv/w==' });
    expect(written.files[1]).not.toHaveProperty('path_b64');
    expect([...parseManifest(json, 'a').files].map((f) => f.path)).toEqual([name, 'data/agents/plain']);
    expect(isUtf8(Buffer.from(json))).toBe(true);
  });

  it.each([
    ['a lone surrogate in path', { path: 'data/agents/\udcff' }, /files.0.path: holds a lone surrogate/],
    ['path_b64 of a UTF-8 name', { path: 'data/x', path_b64: Buffer.from('data/x').toString('base64') }, /must be given as path/],
    ['non-canonical base64', { path: 'data/\\xff', path_b64: 'ZGF0YS//' + '=' }, /not canonical base64/],
    [
      'a path that is not the display form',
      { path: 'data/other', path_b64: Buffer.from([0x64, 0xff]).toString('base64') },
      /does not match path_b64/,
    ],
  ])('refuses a manifest with %s', (_what, entry, pattern) => {
    const raw = manifest([{ ...line('x'), ...entry }]);
    expect(decodeManifestNames(raw)).toMatch(pattern);
    expect(() => parseManifest(JSON.stringify(raw), 'a')).toThrow(pattern);
  });
});
