import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../../src/fsutil/atomic.js';
import { isTempName, tempNameFor } from '../../src/fsutil/temp.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('atomic writes', () => {
  it('replaces a file with the exact mode asked for, whatever the umask, leaving no temporary file', async () => {
    const d = dir();
    const target = join(d, 'secret');
    writeFileSync(target, 'old');
    const old = process.umask(0o022);
    try {
      await writeFileAtomic(target, 'new', { mode: 0o600 });
    } finally {
      process.umask(old);
    }
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['secret']);
  });

  it('never replaces an existing file when exclusive', async () => {
    const d = dir();
    const target = join(d, 'config.toml');
    writeFileSync(target, 'mine');
    await expect(writeFileAtomic(target, 'theirs', { exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(target, 'utf8')).toBe('mine');
    expect(readdirSync(d)).toEqual(['config.toml']);
  });

  it('names temporary files so that they are recognised and never taken for state', () => {
    const name = tempNameFor('/h/keys.db').split('/').pop()!;
    expect(isTempName(name)).toBe(true);
    expect(isTempName('keys.db')).toBe(false);
  });

  it('creates missing parents and gives a new directory its exact mode', async () => {
    const d = dir();
    const target = join(d, 'a', 'b', 'backups');
    expect(await ensureDir(target, 0o700)).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    expect(await ensureDir(target, 0o755)).toBe(false);
    expect(statSync(target).mode & 0o777).toBe(0o700);
  });
});
