/**
 * Restore recovery runs before every command; it must never follow a symbolic link out of the
 * home nor trust a path or id read from the journal. Each attack leaves the outside
 * directory and the home as they were, and the command fails with one error line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/cli.js';
import { deadPid, ownerRecord } from '../support/owner.js';
import { cli, makeHome, snapshotTree } from './support/home.js';

let tmp: { dir: string; cleanup: () => void };
let pristine: string;
beforeAll(async () => {
  tmp = tempDir('hoziron-recovery-');
  pristine = join(tmp.dir, 'pristine');
  await makeHome(pristine);
});
afterAll(() => tmp.cleanup());

/** A fresh copy of the home and a populated directory outside it. */
function setup(name: string): { home: string; outside: string } {
  const home = join(tmp.dir, name, 'home');
  cpSync(pristine, home, { recursive: true });
  const outside = join(tmp.dir, name, 'victim');
  mkdirSync(join(outside, 'data/agents/evil'), { recursive: true });
  writeFileSync(join(outside, 'precious.txt'), 'keep me\n');
  writeFileSync(join(outside, 'data/agents/evil/agent.toml'), 'name = "evil"\n');
  return { home, outside };
}

/** A restore of this host and namespace whose process has died: recovery is due at once. */
function deadOwner(): { pid: number; owner: object } {
  const pid = deadPid();
  return { pid, owner: ownerRecord({ pid }) };
}

function journal(id: string, items: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    id,
    // A restore of this host and namespace that died: recovery is due at once.
    ...deadOwner(),
    phase: 'swapping',
    scope: 'full',
    archive_id: randomUUID(),
    archive_path: '/nowhere.tar.gz',
    safety_backup_id: null,
    actor: 'cli',
    items,
    ...extra,
  });
}

async function expectRefusedUntouched(home: string, outside: string, pattern: RegExp, skip: string[] = ['.restore']): Promise<void> {
  const homeBefore = snapshotTree(home, skip);
  const outsideBefore = snapshotTree(outside, []);
  const r = await cli(home, 'backup', 'list');
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('error: '))).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(snapshotTree(outside, [])).toEqual(outsideBefore);
  expect(snapshotTree(home, skip)).toEqual(homeBefore);
}

describe('restore recovery trusts no path', () => {
  it('a .restore that is a symlink to a directory outside the home is not emptied', async () => {
    const { home, outside } = setup('restore-symlink');
    symlinkSync(outside, join(home, '.restore'));
    await expectRefusedUntouched(home, outside, /\.restore is a symbolic link; restore recovery never follows it/);
  });

  it('a journal with "id": "../../victim" does not make recovery delete that directory', async () => {
    const { home, outside } = setup('journal-id');
    mkdirSync(join(home, '.restore'));
    writeFileSync(join(home, '.restore/journal.json'), journal('../../victim', []));
    await expectRefusedUntouched(home, outside, /journal .* is not one hoziron wrote: id "\.\.\/\.\.\/victim" is not a restore id/);
  });

  it('a journal item outside the known home items is refused', async () => {
    const { home, outside } = setup('journal-item');
    const id = randomUUID();
    mkdirSync(join(home, '.restore', id, 'old'), { recursive: true });
    writeFileSync(join(home, '.restore/journal.json'), journal(id, [{ path: '../victim/precious.txt', existed: true }]));
    await expectRefusedUntouched(home, outside, /item .* is not an item of a full restore/);
  });

  it("a work area's old/ that is a symlink out of the home is not rolled back through", async () => {
    const { home, outside } = setup('old-symlink');
    const id = randomUUID();
    mkdirSync(join(home, '.restore', id, 'stage'), { recursive: true });
    symlinkSync(outside, join(home, '.restore', id, 'old'));
    writeFileSync(join(home, '.restore/journal.json'), journal(id, [{ path: 'data/agents', existed: true }]));
    await expectRefusedUntouched(home, outside, /old is a symbolic link/);
  });

  it('a symlink among the work areas is removed itself, never followed', async () => {
    const { home, outside } = setup('workdir-symlink');
    mkdirSync(join(home, '.restore'));
    symlinkSync(outside, join(home, '.restore', randomUUID()));
    const outsideBefore = snapshotTree(outside, []);
    const r = await cli(home, 'backup', 'list');
    expect(r.code, r.stderr).toBe(0);
    expect(snapshotTree(outside, [])).toEqual(outsideBefore);
    rmSync(join(home, '.restore'), { recursive: true, force: true });
  });
});
