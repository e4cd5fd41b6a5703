/** Owner judgment (docs/operations.md#lock-files) against real processes and real files. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HozironError } from '../../src/errors.js';
import { acquireLock, breakLock, inspectLock } from '../../src/fsutil/lock.js';
import { STALE_AFTER_MS, identityOf, judgeOwner, ownerOfChild, type OwnerRecord } from '../../src/fsutil/owner.js';
import { removeLeftovers, stamp } from '../../src/fsutil/temp.js';
import { tempDir } from '../support/cli.js';
import { ageFile, deadPid, otherNamespaceOwner, ownerRecord } from '../support/owner.js';

const { dir, cleanup } = tempDir('hoziron-owner-');
afterAll(cleanup);

const now = Date.now();
const judge = (r: Partial<OwnerRecord>, heartbeatAgeMs = 0) => judgeOwner(identityOf(r), now - heartbeatAgeMs, now);

describe('judgeOwner', () => {
  it('this process is alive, verified by pid and start time', () => {
    expect(judge(ownerRecord(), 10 * STALE_AFTER_MS)).toMatchObject({ state: 'alive', local: true, verified: true });
  });

  it('same host, boot and namespace with a dead pid: stale, however fresh the heartbeat', () => {
    expect(judge(ownerRecord({ pid: deadPid() }))).toMatchObject({
      state: 'stale',
      local: true,
      reason: expect.stringMatching(/is not running/),
    });
  });

  it('a pid reused by another process (another start time) is stale, pid 1 included', async () => {
    const sleeper = spawn('sleep', ['30']);
    try {
      await new Promise((r) => sleeper.once('spawn', r));
      const real = ownerOfChild(sleeper.pid!);
      expect(judge(real)).toMatchObject({ state: 'alive', verified: true });
      expect(judge({ ...real, start_time: String(Number(real.start_time) + 1) })).toMatchObject({
        state: 'stale',
        reason: expect.stringMatching(/now belongs to another process/),
      });
      expect(judge(ownerRecord({ pid: 1, start_time: '999999999' }))).toMatchObject({ state: 'stale' });
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('another boot id is judged by the heartbeat only, even with a live pid here', () => {
    const r = ownerRecord({ boot_id: 'an-earlier-boot' });
    expect(judge(r, 1000)).toMatchObject({ state: 'alive', local: false, verified: false });
    expect(judge(r, STALE_AFTER_MS + 1000)).toMatchObject({ state: 'stale', reason: expect.stringMatching(/no heartbeat for \d+ s/) });
  });

  it('another PID namespace with a fresh heartbeat is alive, though its pid is not ours; stale once the heartbeat is old', () => {
    expect(judge(otherNamespaceOwner({ pid: deadPid() }), 5000)).toMatchObject({ state: 'alive', local: false });
    expect(judge(otherNamespaceOwner(), STALE_AFTER_MS + 1)).toMatchObject({ state: 'stale', local: false });
  });

  it('a record of an older version (pid only) is judged by its heartbeat', () => {
    expect(judge({ pid: deadPid() }, 1000).state).toBe('alive');
    expect(judge({ pid: process.pid }, STALE_AFTER_MS + 1).state).toBe('stale');
  });
});

describe('removeLeftovers', () => {
  it('removes temporary files of stale owners only: never a live writer in another namespace', async () => {
    const d = join(dir, 'leftovers');
    mkdirSync(d);
    const [, start, origin] = stamp().split('-');
    const files = {
      deadHere: `.hoziron-tmp-${deadPid()}-${start}-${origin}-00000001.body`,
      reusedHere: `.hoziron-tmp-1-1-${origin}-00000002.body`,
      otherNsFresh: `.hoziron-tmp-1-42-abcdef012345-00000003.body`,
      otherNsOld: `.hoziron-tmp-1-42-abcdef012345-00000004.body`,
      ours: `.hoziron-tmp-${stamp()}-00000005.db`,
      notOurs: 'notes.txt',
    };
    for (const n of Object.values(files)) writeFileSync(join(d, n), 'x');
    ageFile(join(d, files.otherNsOld), STALE_AFTER_MS + 5000);
    expect((await removeLeftovers(d)).sort()).toEqual([files.deadHere, files.reusedHere, files.otherNsOld].sort());
    for (const n of [files.otherNsFresh, files.ours, files.notOurs]) expect(existsSync(join(d, n))).toBe(true);
  });
});

describe('the lock primitive', () => {
  const held = (): HozironError => new HozironError('conflict', 'held');

  it('is exclusive, released only by its token, and never broken while its owner lives and beats', async () => {
    const path = join(dir, 'a.lock');
    const lock = await acquireLock(path, 'create', held);
    expect(await inspectLock(path)).toMatchObject({ record: { operation: 'create', pid: process.pid }, judgment: { state: 'alive' } });
    await expect(acquireLock(path, 'prune', held)).rejects.toThrow('held');
    await expect(breakLock(path)).rejects.toThrow(/held by a live owner/);
    // An operator replaced it: our release must leave the new one alone.
    const other = JSON.stringify({ ...otherNamespaceOwner(), operation: 'prune' });
    writeFileSync(path, other);
    await lock.release();
    expect(readFileSync(path, 'utf8')).toBe(other);
    ageFile(path, STALE_AFTER_MS + 1000);
    const mine = await acquireLock(path, 'create', held); // stale: taken over
    await mine.release();
    expect(existsSync(path)).toBe(false);
  });

  it('breaks a lock whose owner is alive but silent past the limit (hung)', async () => {
    const path = join(dir, 'b.lock');
    writeFileSync(path, JSON.stringify({ ...ownerRecord(), operation: 'create' }));
    ageFile(path, STALE_AFTER_MS + 1000);
    expect((await inspectLock(path))?.judgment.state).toBe('alive'); // this very process
    expect(await breakLock(path)).toMatchObject({ record: { operation: 'create' } });
    expect(existsSync(path)).toBe(false);
  });
});
