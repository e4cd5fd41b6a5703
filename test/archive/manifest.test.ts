import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeName, manifestNameReplacer } from '../../src/archive/entry-name.js';
import { ManifestReader, parseManifest } from '../../src/archive/manifest.js';

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

function doc(files: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 1,
    id: randomUUID(),
    created_at: '2026-01-01T00:00:00.000Z',
    scope: 'agents',
    hoziron_version: '0.1.0',
    host: 'h\u00e9 "quoted"',
    files: Array.from({ length: files }, (_, i) => ({
      path: `data/agents/a${i}/\u00e9t\u00e9.md`,
      size: i,
      mode: 0o644,
      sha256: hash(String(i)),
    })),
    dirs: [{ path: 'data/agents', mode: 0o755 }],
    audit_head: null,
    ...extra,
  });
}

/** Feed `text` to a fresh reader `size` bytes at a time. */
function streamed(text: string, size: number) {
  const bytes = Buffer.from(text);
  const r = new ManifestReader('a.tar.gz');
  for (let i = 0; i < bytes.length; i += size) r.feed(bytes.subarray(i, i + size));
  return r.end();
}

describe('the streaming manifest parser', () => {
  it('reads non-UTF-8 names from path_b64 at every chunk size, and refuses every other spelling of them', () => {
    const raw = decodeName(Buffer.concat([Buffer.from('data/agents/a0/'), Buffer.from([0xff, 0x66])]));
    const m = JSON.parse(doc(2)) as { files: { path: string }[]; dirs: { path: string }[] };
    m.files[1]!.path = raw;
    m.dirs.push({ ...m.dirs[0]!, path: decodeName(Buffer.concat([Buffer.from('data/agents/'), Buffer.from([0xfe])])) });
    const text = JSON.stringify(m, manifestNameReplacer);
    expect(text).toContain('"path_b64"');
    for (const size of [1, 3, 64, 4096]) {
      const got = streamed(text, size);
      expect(got.files.pathAt(1)).toBe(raw);
      expect(got.files.get(raw)?.size).toBe(1);
      expect(got.dirs.pathAt(1)).toBe(m.dirs[1]!.path);
    }
    const line = JSON.parse(text) as { files: Record<string, unknown>[] };
    const b64 = line.files[1]!.path_b64 as string;
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ path: 'data/agents/a0/\udcff' }, /files\.1\.path: holds a lone surrogate/],
      [
        { path_b64: Buffer.from('data/agents/a0/x').toString('base64'), path: 'data/agents/a0/x' },
        /files\.1\.path_b64: a UTF-8 name must be given as path/,
      ],
      [{ path_b64: `${b64.replace(/=+$/, '')}` }, /files\.1\.path_b64: not canonical base64/],
      [{ path: 'data/agents/a0/other' }, /files\.1\.path: does not match path_b64/],
    ];
    for (const [change, pattern] of bad) {
      const broken = JSON.stringify({ ...line, files: [line.files[0], { ...line.files[1], ...change }] });
      for (const size of [1, 4096]) expect(() => streamed(broken, size)).toThrow(pattern);
    }
  });

  it('reads the same manifest whatever the chunk boundaries (even one byte at a time)', () => {
    const text = doc(50);
    const whole = parseManifest(text, 'a.tar.gz');
    const bytes = Buffer.from(text);
    for (const size of [1, 7, 64, 4096]) {
      const r = new ManifestReader('a.tar.gz');
      for (let i = 0; i < bytes.length; i += size) r.feed(bytes.subarray(i, i + size));
      const m = r.end();
      expect(JSON.stringify(m)).toBe(JSON.stringify(whole));
    }
    expect(whole.host).toBe('h\u00e9 "quoted"');
    expect(whole.files.get('data/agents/a3/\u00e9t\u00e9.md')).toEqual({
      path: 'data/agents/a3/\u00e9t\u00e9.md',
      size: 3,
      mode: 0o644,
      sha256: hash('3'),
    });
    expect(whole.files.totalSize()).toBe((49 * 50) / 2);
  });

  it('refuses a single value larger than 1 MiB without holding the document (a hostile host string)', () => {
    const r = new ManifestReader('a.tar.gz');
    r.feed(Buffer.from('{"format":1,"host":"'));
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    expect(() => {
      for (let i = 0; i < 8; i++) r.feed(chunk);
    }).toThrow(/MANIFEST\.json is not valid JSON \(a value larger than 1048576 bytes\)/);
  });

  it('refuses a path listed twice, as a file and as a directory too', () => {
    const m = JSON.parse(doc(2)) as { files: { path: string }[]; dirs: { path: string; mode: number }[] };
    expect(() => parseManifest(JSON.stringify({ ...m, files: [m.files[0], m.files[0]] }), 'a')).toThrow(
      /lists data\/agents\/a0\/été\.md twice/,
    );
    expect(() => parseManifest(JSON.stringify({ ...m, dirs: [{ path: m.files[1]!.path, mode: 0o755 }] }), 'a')).toThrow(/twice/);
  });

  it('refuses bad JSON, bad entries and a newer format with the messages the schema gives', () => {
    expect(() => parseManifest('{"format":1,', 'a')).toThrow(/not valid JSON \(the document ends early\)/);
    expect(() => parseManifest(`${doc(1)} x`, 'a')).toThrow(/not valid JSON/);
    const bad = JSON.parse(doc(1)) as { files: { sha256: string }[] };
    bad.files[0]!.sha256 = 'XYZ';
    expect(() => parseManifest(JSON.stringify(bad), 'a')).toThrow(/files\.0\.sha256: Invalid/);
    expect(() => parseManifest(doc(1, { format: 2 }), 'a')).toThrow(/format 2 is newer/);
  });
});
