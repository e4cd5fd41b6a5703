import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aliasingPairs } from '../../src/archive/entry-paths.js';
import { DirList, FileList, type Manifest } from '../../src/archive/manifest.js';
import { checkRestorableNames, probeNameFolding } from '../../src/backup/name-folding.js';
import { isHozironError } from '../../src/errors.js';
import { tempDir } from '../support/cli.js';

let sandbox: { dir: string; cleanup: () => void };
beforeEach(() => {
  sandbox = tempDir('hoziron-folding-');
});
afterEach(() => sandbox.cleanup());

const paths = ['data/agents/a1/Notes.md', 'data/agents/a1/notes.md', 'data/memory/caf\u00e9', 'data/memory/cafe\u0301', 'A/x', 'a/y'];

describe('names that alias on some file systems', () => {
  it('finds case twins, normalisation twins and twins through an ancestor, only where the file system folds', () => {
    expect(aliasingPairs(paths, { foldsCase: false, normalises: false }).pairs).toEqual([]);
    expect(aliasingPairs(paths, { foldsCase: true, normalises: false }).pairs).toEqual([
      ['data/agents/a1/Notes.md', 'data/agents/a1/notes.md'],
      ['A', 'a'],
    ]);
    expect(aliasingPairs(paths, { foldsCase: false, normalises: true }).pairs).toEqual([
      ['data/memory/caf\u00e9', 'data/memory/cafe\u0301'],
    ]);
    const capped = aliasingPairs(paths, { foldsCase: true, normalises: true }, 1);
    expect(capped).toEqual({ pairs: [['data/agents/a1/Notes.md', 'data/agents/a1/notes.md']], more: 2 });
  });

  it('refuses a restore only onto a file system that would merge two names', () => {
    const m = {
      files: FileList.from(paths.map((path) => ({ path, size: 0, mode: 0o644, sha256: '0'.repeat(64) }))),
      dirs: new DirList(),
    } as unknown as Manifest;
    expect(() => checkRestorableNames(m, { foldsCase: false, normalises: false }, 'a.tar.gz', '/stage')).not.toThrow();
    let err: unknown;
    try {
      checkRestorableNames(m, { foldsCase: true, normalises: false }, 'a.tar.gz', '/stage');
    } catch (e) {
      err = e;
    }
    expect(isHozironError(err) && err.code).toBe('conflict');
    expect((err as Error).message).toBe(
      'a.tar.gz: cannot restore here: the file system of /stage ignores case, so "data/agents/a1/Notes.md" and "data/agents/a1/notes.md", "A" and "a" would become one file',
    );
  });

  it('learns from the file system itself how it folds names, and leaves nothing behind', async () => {
    const folding = await probeNameFolding(sandbox.dir);
    // What the file system of the sandbox really does, asked directly.
    writeFileSync(join(sandbox.dir, 'Probe\u00e9'), '');
    expect(folding).toEqual({
      foldsCase: existsSync(join(sandbox.dir, 'probe\u00e9')),
      normalises: existsSync(join(sandbox.dir, 'Probee\u0301')),
    });
    expect(readdirSync(sandbox.dir)).toEqual(['Probe\u00e9']);
  });
});
