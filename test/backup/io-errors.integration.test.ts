/**
 * Raw errno errors (issue 10 item 10): a full or read-only storage reaches the operator as
 * one line naming the path and what happened, with a hint about space or access, never a
 * bare `ENOSPC: no space left on device, write` or a hint to check the database.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { cli, makeHome } from '../restore/support/home.js';

const tmp = tempDir('hoziron-io-errors-');
const mounts: string[] = [];

function canMount(): boolean {
  const probe = join(tmp.dir, 'probe');
  mkdirSync(probe, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status !== 0) return false;
  spawnSync('umount', [probe]);
  return true;
}
const mountable = canMount();

function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounts.push(dir);
}

function setStorage(home: string, dir: string): void {
  const path = join(home, 'config.toml');
  writeFileSync(path, readFileSync(path, 'utf8').replace(/^storage_path = .*$/m, `storage_path = ${JSON.stringify(dir)}`));
}

afterAll(() => {
  for (const dir of mounts.reverse()) spawnSync('umount', ['-l', dir]);
  tmp.cleanup();
});

describe('create on a storage that cannot take the archive', () => {
  it.skipIf(!mountable)(
    'a storage that fills up during create: exit 1, one line naming the storage and "no space left", nothing left behind',
    async () => {
      const home = join(tmp.dir, 'full');
      await makeHome(home, 1);
      // 6 MB that does not compress, into a 2 MB storage.
      writeFileSync(join(home, 'data/skills/blob.bin'), randomBytes(6 * 1024 * 1024));
      const storage = join(tmp.dir, 'full-storage');
      mountTmpfs(storage, '2m');
      setStorage(home, storage);
      writeFileSync(join(storage, 'keep.txt'), 'was here\n');
      const r = await cli(home, 'backup', 'create');
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^error: .*${storage}.*no space left`));
      expect(lines[0]).not.toMatch(/^error: ENOSPC/);
      expect(lines.slice(1).join('\n')).not.toMatch(/doctor|database/);
      expect(lines[1]).toMatch(/^hint: free some space on the filesystem of /);
      expect(lines).toHaveLength(2);
      // Only what was there, and the lock file the storage keeps between operations.
      expect(readdirSync(storage).filter((n) => n !== '.hoziron-backup.lock')).toEqual(['keep.txt']);
    },
  );

  it.skipIf(!mountable)('a read-only storage: exit 1, the path, "read-only" and what to do', async () => {
    const home = join(tmp.dir, 'ro');
    await makeHome(home, 1);
    const storage = join(tmp.dir, 'ro-storage');
    mountTmpfs(storage, '8m');
    execFileSync('mount', ['-o', 'remount,ro', storage]);
    setStorage(home, storage);
    const r = await cli(home, 'backup', 'create');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: cannot \\w+ ${storage}\\S*: the filesystem is read-only \\(EROFS\\)$`, 'm'));
    expect(r.stderr).toMatch(/^hint: make .* writable by this user \(is it mounted read-only\?\)/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
