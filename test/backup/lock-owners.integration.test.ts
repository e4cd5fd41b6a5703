/**
 * The backup lock and temporary files across processes, containers and PID namespaces (SPEC
 * §12), with the real CLI: a lock is stale only when its process is gone from this host and
 * namespace or its heartbeat is old; never because its pid is not visible from here, never
 * alive because another process now has its pid (pid 1 included).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { ageFile, otherNamespaceOwner, ownerRecord } from '../support/owner.js';
import { createJson, listJson, makeHome, type TestHome } from './helpers.js';

let h: TestHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});

const LOCK = '.hoziron-backup.lock';
const OTHER_TAG = 'abcdef012345'; // the origin hash of "another namespace" in a temporary name

function writeLock(t: TestHome, record: object): string {
  const path = join(t.storage, LOCK);
  writeFileSync(path, JSON.stringify({ ...record, operation: 'create' }));
  return path;
}

describe('the backup lock judged by its owner record', () => {
  it('takes over a lock naming pid 1 of a container that is gone (old heartbeat)', async () => {
    h = makeHome();
    const lock = writeLock(h, otherNamespaceOwner());
    ageFile(lock, 5 * 60_000);
    const rec = await createJson(h);
    expect(existsSync(rec.path)).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose pid (1 here) now belongs to another process: start times differ', async () => {
    h = makeHome();
    const lock = writeLock(h, ownerRecord({ pid: 1, start_time: '7' })); // fresh heartbeat, our namespace
    expect(existsSync(join(h.storage))).toBe(true);
    await createJson(h);
    expect(existsSync(lock)).toBe(false);
  });

  it('a live lock from another PID namespace blocks a create; list keeps it and its temporary file; doctor shows it; --break-lock waits for a stale heartbeat', async () => {
    h = makeHome();
    const lock = writeLock(h, otherNamespaceOwner({ host: 'cronjob-pod' }));
    // Its body in progress: pid 1 there, which is also a live pid here.
    const body = join(h.storage, `.hoziron-tmp-1-42-${OTHER_TAG}-0a0b0c0d.body`);
    writeFileSync(body, 'half an archive');

    const create = await h.cli('backup', 'create');
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(/^error: another backup operation is running: create \(pid 1 on host cronjob-pod/m);
    expect(create.stderr).toMatch(/^hint: .*hoziron doctor/m);
    expect(await listJson(h)).toEqual([]);
    expect(existsSync(lock) && existsSync(body)).toBe(true);

    const doctor = await h.cli('doctor', '--json');
    const locks = (JSON.parse(doctor.stdout) as { checks: { check: string; status: string; message: string }[] }).checks.filter(
      (c) => c.check === 'locks',
    );
    expect(locks).toEqual([
      {
        check: 'locks',
        status: 'ok',
        message: expect.stringMatching(
          /^backup lock .*: create, pid 1 on host cronjob-pod since .*; last heartbeat \d+ s ago; alive: another host, boot or PID namespace/,
        ),
      },
    ]);
    const refused = await h.cli('doctor', '--break-lock', 'backup');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: the lock .* is held by a live owner/m);
    expect(existsSync(lock)).toBe(true);

    // The other pod died: nothing beats any more.
    ageFile(lock, 3 * 60_000);
    ageFile(body, 3 * 60_000);
    const broken = await h.cli('doctor', '--break-lock', 'backup');
    expect(broken.stdout).toMatch(
      /^broke the backup lock .* \(create, pid 1 on host cronjob-pod.*stale: .*no heartbeat for \d+ s \(limit 120 s\)/m,
    );
    expect(existsSync(lock)).toBe(false);
    // Doctor names a stale lock and how to clear it (its listing then tidies it, as any listing does).
    ageFile(writeLock(h, otherNamespaceOwner()), 3 * 60_000);
    const stale = await h.cli('doctor');
    expect(stale.stdout).toMatch(
      /^warn +locks +backup lock .*stale: .*the next backup operation takes it over, or clear it now with `hoziron doctor --break-lock backup`/m,
    );
    expect(await listJson(h)).toEqual([]);
    expect(existsSync(body)).toBe(false);
    expect((await h.cli('doctor', '--break-lock', 'nothing')).code).toBe(2);
  });
});

const unshareWorks = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;

describe.skipIf(!unshareWorks)('a create in another PID namespace (unshare --pid), as PID 1 there', () => {
  it('is seen alive from here: a second create refuses, list removes neither its lock nor its temporary files; once killed, its lock goes stale with its heartbeat', async () => {
    h = makeHome();
    const big = Buffer.alloc(64 * 1024 * 1024);
    randomFillSync(big);
    writeFileSync(join(h.home, 'data', 'skills', 'big.bin'), big);
    const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, BIN, '--home', h.home, 'backup', 'create'], {
      stdio: 'ignore',
    });
    const t = h;
    const names = () => readdirSync(t.storage);
    const deadline = Date.now() + 30_000;
    while (!names().some((n) => n.startsWith('.hoziron-tmp-') && n.endsWith('.body')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Paused mid-write (its heartbeat too), so it cannot finish before the checks below.
    const inner = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    process.kill(inner, 'SIGSTOP');
    const lock = JSON.parse(readFileSync(join(h.storage, LOCK), 'utf8')) as { pid: number; pid_ns: string };
    expect(lock.pid).toBe(1); // PID 1 of its namespace, and pid 1 is alive here too: never the same process
    expect(lock.pid_ns).not.toBe(ownerRecord().pid_ns);
    const temps = names().filter((n) => n.startsWith('.hoziron-tmp-'));

    const second = await h.cli('backup', 'create');
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another backup operation is running: create \(pid 1 /);
    const listed = await h.cli('backup', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    expect(names()).toContain(LOCK);
    expect(names()).toEqual(expect.arrayContaining(temps));

    // Killed (the whole namespace goes with its PID 1): its lock stays until its heartbeat is old.
    process.kill(inner, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await h.cli('backup', 'create')).code).toBe(1);
    for (const n of names()) if (n === LOCK || n.startsWith('.hoziron-tmp-')) ageFile(join(t.storage, n), 3 * 60_000);
    const rec = await createJson(h);
    expect(existsSync(rec.path)).toBe(true);
    expect(names().filter((n) => n.startsWith('.hoziron-tmp-') || n === LOCK)).toEqual([]);
  });
});
