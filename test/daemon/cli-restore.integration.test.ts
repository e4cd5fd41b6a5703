/**
 * A CLI restore on a home whose daemon runs (issue 11, item 2): it goes through the daemon's
 * live restore, so no write the daemon acknowledged is lost; `start` refuses while a CLI
 * restore runs; the one-shot local credential the CLI uses is accepted once, and only as made.
 * Real `bin/hoziron`, real daemon on 127.0.0.1 (port 0).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { RestoreResult } from '../../src/api/restore.js';
import type { ApiError, BackupRecord } from '../../src/api/types.js';
import { mintLocalCredential } from '../../src/daemon/local-credential.js';
import { BIN } from '../support/cli.js';
import { makeHome, startDaemon, type TestHome } from './support.js';

interface Write {
  writer: number;
  key: string;
  status: number;
  retryAfter: string | null;
  code?: string;
}

function kvKeys(db: string): Set<string> {
  const d = new Database(db, { readonly: true });
  try {
    return new Set((d.prepare('SELECT agent, key FROM kv').all() as { agent: string; key: string }[]).map((r) => `${r.agent}/${r.key}`));
  } finally {
    d.close();
  }
}

/** The keys of data/hoziron.db inside an archive, extracted with the system's tar. */
function archivedKeys(archive: string, into: string): Set<string> {
  mkdirSync(into);
  execFileSync('tar', ['-xzf', archive, '-C', into, 'data/hoziron.db']);
  return kvKeys(join(into, 'data', 'hoziron.db'));
}

function addBulk(t: TestHome, bytes: number): void {
  mkdirSync(t.home.path('data/skills/bulk'), { recursive: true });
  writeFileSync(t.home.path('data/skills/bulk/blob.bin'), randomBytes(bytes));
}

describe('CLI restore on a home whose daemon runs', () => {
  const homes: TestHome[] = [];
  const home = () => {
    const t = makeHome();
    homes.push(t);
    return t;
  };
  afterEach(async () => {
    for (const t of homes.splice(0)) await t.cleanup();
  });

  it('goes through the daemon: writes during the gate get 503 with Retry-After, every write answered 200 is kept', async () => {
    const t = home();
    addBulk(t, 16 * 1024 * 1024); // so the restore takes long enough for many writes to meet its gate
    const api = await startDaemon(t);
    expect((await api.request('PUT', '/v1/agents/base/kv/before-backup', { value: 1 })).status).toBe(200);
    const backup = await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' });
    expect(backup.status).toBe(200);

    const writes: Write[] = [];
    let stop = false;
    const started = Date.now();
    const writers = [0, 1, 2, 3].map(async (w) => {
      for (let n = 0; !stop; n++) {
        const key = `k${n}`;
        const r = await api.request<ApiError>('PUT', `/v1/agents/w${w}/kv/${key}`, { value: { n } });
        writes.push({
          writer: w,
          key: `w${w}/${key}`,
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          code: r.body?.error?.code,
        });
      }
    });
    while (writes.filter((x) => x.status === 200).length < 200) await new Promise((r) => setTimeout(r, 5));
    const restore = await t.cliAsync(['backup', 'restore', backup.body.id, '--confirm', '--json']);
    // Writes go on after the restore for a moment: the daemon serves the restored state.
    const after = writes.length;
    while (writes.length < after + 200) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await Promise.all(writers);
    const seconds = (Date.now() - started) / 1000;

    expect(restore.code, restore.stderr).toBe(0);
    const result = JSON.parse(restore.stdout) as RestoreResult;
    expect(result.dry_run).toBe(false);
    expect(result.safety_backup?.scope).toBe('pre-restore');
    // Enough writes to span the gate (a few hundred PUT/s on an idle machine; rates are the bench's job).
    expect(writes.length, `${writes.length} writes in ${seconds.toFixed(1)} s`).toBeGreaterThan(200);

    // Only 200 or 503 (busy, with Retry-After): never an error, never a closed handle.
    expect(writes.filter((x) => x.status !== 200 && x.status !== 503)).toEqual([]);
    const gated = writes.filter((x) => x.status === 503);
    expect(gated.length).toBeGreaterThan(0);
    expect(gated.filter((x) => x.code !== 'busy' || !/^\d+$/.test(x.retryAfter ?? ''))).toEqual([]);

    // Stopped, then read from disk.
    expect((await t.cliAsync(['stop'])).code).toBe(0);
    const final = kvKeys(t.home.memoryDb);
    // The safety backup is written after the swap, in the background: wait for it.
    for (let i = 0; i < 600 && existsSync(t.home.restoreDir); i++) await new Promise((r) => setTimeout(r, 100));
    const safety = archivedKeys(result.safety_backup!.path, join(t.root, 'safety'));
    expect(final.has('base/before-backup')).toBe(true);
    let afterGate = 0;
    for (const w of [0, 1, 2, 3]) {
      const mine = writes.filter((x) => x.writer === w);
      const firstGated = mine.findIndex((x) => x.status === 503);
      expect(firstGated, `writer ${w} met the gate`).toBeGreaterThanOrEqual(0);
      const before = mine.slice(0, firstGated).filter((x) => x.status === 200);
      const later = mine.slice(firstGated).filter((x) => x.status === 200);
      afterGate += later.length;
      // Answered before the gate: in the safety backup, and replaced by the restored state.
      expect(before.filter((x) => !safety.has(x.key))).toEqual([]);
      expect(before.filter((x) => final.has(x.key))).toEqual([]);
      // Answered after the gate (the daemon reopened the restored databases): on disk now.
      expect(later.filter((x) => !final.has(x.key))).toEqual([]);
    }
    expect(afterGate).toBeGreaterThan(0);
    expect(readdirSync(t.home.runDir).filter((n) => n.endsWith('.credential'))).toEqual([]);
  });

  it('start (background or foreground) refuses while a CLI restore runs, and starts once it has finished', async () => {
    const t = home();
    addBulk(t, 64 * 1024 * 1024);
    const created = await t.cliAsync(['backup', 'create', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const archive = (JSON.parse(created.stdout) as BackupRecord).path;

    const child = spawn(process.execPath, [BIN, '--home', t.dir, 'backup', 'restore', archive, '--confirm'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Catch the restore while it stages (its work area has an owner), and hold it there.
    const deadline = Date.now() + 30_000;
    const owned = (n: string) => {
      try {
        // The work area's owner record (fsutil/owner.ts) names the restoring process.
        return (JSON.parse(readFileSync(join(t.home.restoreDir, n, 'owner'), 'utf8')) as { pid?: number }).pid === child.pid;
      } catch {
        return false;
      }
    };
    const staging = () => existsSync(t.home.restoreDir) && readdirSync(t.home.restoreDir).some(owned);
    while (!staging() && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    child.kill('SIGSTOP');
    try {
      expect(staging()).toBe(true);
      const bg = await t.cliAsync(['start']);
      expect(bg.code).toBe(1);
      expect(bg.stderr).toMatch(new RegExp(`^error: a restore is in progress on .* \\(pid ${child.pid}\\)`, 'm'));
      const fg = await t.cliAsync(['start', '--foreground']);
      expect(fg.code).toBe(1);
      expect(fg.stderr).toMatch(/a restore is in progress/);
      expect(existsSync(t.home.pidFile)).toBe(false);
      expect(existsSync(t.home.daemonLock)).toBe(false);
    } finally {
      child.kill('SIGCONT');
    }
    expect(await exited).toBe(0);
    const api = await startDaemon(t);
    expect((await api.request<{ status: string }>('GET', '/v1/health')).body.status).toBe('ok');
  });

  it('accepts a local credential once, from this host, only as the CLI makes it', async () => {
    const t = home();
    const api = await startDaemon(t);
    const record = (await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'agents' })).body;
    // An archive outside the storage path: an API key may not name it, the home's owner may.
    const outside = join(t.root, 'outside.tar.gz');
    copyFileSync(record.path, outside);
    // Its sidecar names the file it sits beside, or it proves nothing (a restore then refuses: no recorded checksum).
    writeFileSync(`${outside}.sha256`, readFileSync(`${record.path}.sha256`, 'utf8').replace(basename(record.path), 'outside.tar.gz'));
    const body = { file: outside, dry_run: true };
    expect((await api.request('POST', '/v1/backup/restore', body)).status).toBe(400);

    const cred = await mintLocalCredential(t.home);
    const local = api.withToken(cred.token);
    expect((await local.request('POST', '/v1/backup/restore', body)).status).toBe(200);
    const replay = await local.request<ApiError>('POST', '/v1/backup/restore', body);
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/already used/);

    const loose = await mintLocalCredential(t.home);
    const file = readdirSync(t.home.runDir).find((n) => n.endsWith('.credential'))!;
    chmodSync(join(t.home.runDir, file), 0o644);
    const r = await api.withToken(loose.token).request<ApiError>('POST', '/v1/backup/restore', body);
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/group or other/);
    await loose.dispose();

    const forged = `hzl_${'0'.repeat(32)}_${'A'.repeat(43)}`;
    expect((await api.withToken(forged).request('POST', '/v1/backup/restore', body)).status).toBe(401);
    const wrong = await mintLocalCredential(t.home);
    const guessed = `${wrong.token.slice(0, -1)}${wrong.token.endsWith('A') ? 'B' : 'A'}`;
    expect((await api.withToken(guessed).request('POST', '/v1/backup/restore', body)).status).toBe(401);
    await wrong.dispose();
  });
});
