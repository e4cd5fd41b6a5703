/**
 * `createBackupInWorker` (the daemon's way to back up): the backup runs on another thread,
 * errors keep their code, message and hint, and a worker that dies leaves no temporary file
 * of its own and no lock. The compiled modules are loaded (`importBuilt`): the worker entry
 * only exists compiled.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stamp } from '../../src/fsutil/temp.js';
import { importBuilt } from '../support/cli.js';
import { makeHome, type TestHome } from './helpers.js';

type WorkerModule = typeof import('../../src/backup/create-in-worker.js');
type ErrorsModule = typeof import('../../src/errors.js');
type ConfigModule = typeof import('../../src/home/config.js');
type LayoutModule = typeof import('../../src/home/layout.js');

const { createBackupInWorker } = await importBuilt<WorkerModule>('src/backup/create-in-worker.ts');
const { HozironError } = await importBuilt<ErrorsModule>('src/errors.ts');
const { loadConfig } = await importBuilt<ConfigModule>('src/home/config.ts');
const { HomeLayout } = await importBuilt<LayoutModule>('src/home/layout.ts');

const archives = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => /^hoziron-backup-.*\.tar\.gz$/.test(n)) : []);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createBackupInWorker', () => {
  const homes: TestHome[] = [];
  const home = () => {
    const h = makeHome();
    homes.push(h);
    return h;
  };
  afterEach(() => {
    for (const h of homes.splice(0)) h.cleanup();
  });

  it('completes the archive while the calling thread is blocked, and forwards warnings', async () => {
    const h = home();
    // Enough bulk that the backup is still running when its first progress arrives.
    writeFileSync(join(h.home, 'data', 'skills', 'bulk.bin'), randomBytes(32 * 1024 * 1024));
    symlinkSync('/etc/hostname', join(h.home, 'data', 'agents', 'alpha', 'link'));
    const layout = new HomeLayout(h.home);
    const warnings: string[] = [];
    let progressed = false;
    let settled = false;
    const job = createBackupInWorker(layout, loadConfig(layout), {
      scope: 'full',
      actor: 'test',
      onWarning: (m) => warnings.push(m),
      onProgress: () => (progressed = true),
    });
    job.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!progressed && !settled) await sleep(5);
    expect(settled, 'the backup is still running').toBe(false);
    // Block this thread (no event loop turn at all): only a backup on another thread can finish.
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 30_000;
    let done = archives(h.storage);
    while (done.length === 0 && Date.now() < deadline) {
      Atomics.wait(cell, 0, 0, 20);
      done = archives(h.storage);
    }
    expect(done, 'an archive appeared while the calling thread was blocked').toHaveLength(1);
    const record = await job;
    expect(record.path).toBe(join(h.storage, done[0]!));
    expect(warnings).toContain('data/agents/alpha/link is a symbolic link; not archived');
  });

  it("re-creates the worker's HozironError with its code, message and hint, and releases the lock", async () => {
    const h = home();
    const layout = new HomeLayout(h.home);
    const missing = join(h.dir, 'no-such-dir', 'out.tar.gz');
    const err = await createBackupInWorker(layout, loadConfig(layout), { scope: 'full', actor: 'test', output: missing }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HozironError);
    expect(err).toMatchObject({
      code: 'usage',
      message: `the output directory ${join(h.dir, 'no-such-dir')} does not exist`,
      hint: 'create it first, or choose another path',
    });
    expect(existsSync(join(h.storage, '.hoziron-backup.lock'))).toBe(false);
  });

  it('a worker that dies leaves none of its temporary files and no lock, and says so', async () => {
    const h = home();
    const layout = new HomeLayout(h.home);
    mkdirSync(h.storage, { recursive: true });
    // Another operation's temporary directory of this process (a verify): not the worker's.
    const verify = join(h.storage, `.hoziron-tmp-${stamp()}-0123abcd.verify`);
    mkdirSync(verify);
    // A stand-in worker that writes what a create writes, then exits without answering.
    const entry = join(h.dir, 'dying-worker.mjs');
    writeFileSync(
      entry,
      `import { writeFileSync } from 'node:fs';
       import { workerData } from 'node:worker_threads';
       const dir = workerData.cfg.storageDir;
       for (const name of ['.hoziron-tmp-${stamp()}-aaaaaaaa.body', '.hoziron-tmp-${stamp()}-bbbbbbbb.db',
                           '.hoziron-tmp-${stamp()}-bbbbbbbb.db-journal', '.hoziron-backup-x.tar.gz.json.tmp-${stamp()}-cccccccc'])
         writeFileSync(dir + '/' + name, 'partial');
       process.exit(7);`,
    );
    const err = await createBackupInWorker(layout, loadConfig(layout), { scope: 'full', actor: 'test' }, pathToFileURL(entry)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HozironError);
    expect(err).toMatchObject({ code: 'internal', message: 'the backup stopped: its worker thread exited with code 7' });
    expect(readdirSync(h.storage).sort()).toEqual([`.hoziron-tmp-${stamp()}-0123abcd.verify`]);
  });
});
