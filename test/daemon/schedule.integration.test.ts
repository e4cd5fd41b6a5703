import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackupStatusResponse } from '../../src/api/daemon.js';
import { makeHome, startDaemon, type TestHome } from './support.js';

function archives(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^hoziron-backup-.*\.tar\.gz$/.test(n)) : [];
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return cond();
}

describe('daemon schedule and shutdown backups', () => {
  const homes: TestHome[] = [];
  const home = (lines: string[] = []) => {
    const t = makeHome(lines);
    homes.push(t);
    return t;
  };
  afterEach(async () => {
    for (const t of homes.splice(0)) await t.cleanup();
  });

  it('an invalid schedule stops the daemon at start with a clear error', async () => {
    const t = home(['schedule = "61 * * * *"']);
    const r = await t.cliAsync(['start']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*config\.toml: backup\.schedule: expected a valid cron expression/m);
    expect(existsSync(t.home.pidFile)).toBe(false);
  });

  it('with backup_on_shutdown = true, hoziron stop leaves one more backup', async () => {
    const t = home(['backup_on_shutdown = true']);
    await startDaemon(t);
    expect(archives(t.home.defaultStorage)).toEqual([]);
    const r = await t.cliAsync(['stop']);
    expect(r.code, r.stderr).toBe(0);
    expect(archives(t.home.defaultStorage)).toHaveLength(1);
  });

  it('a slot missed while the daemon was down runs once shortly after start', async () => {
    const t = home(['schedule = "0 2 * * *"']);
    // The daemon last handled a slot three days ago.
    writeFileSync(
      t.home.backupState,
      JSON.stringify({ last_attempt: null, last_success: null, last_slot: new Date(Date.now() - 3 * 86400_000).toISOString() }),
    );
    const api = await startDaemon(t);
    expect(await waitFor(() => archives(t.home.defaultStorage).length === 1, 30_000)).toBe(true);
    let status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    for (let i = 0; i < 40 && status.body.last_success === null; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    }
    expect(status.body.last_success?.trigger).toBe('missed-schedule');
    expect(archives(t.home.defaultStorage)).toHaveLength(1);
  });

  it('runs the backup of a slot when the daemon clock reaches it, then arms the next slot', async () => {
    // A new home (no history): the slot before start becomes the baseline, nothing is missed.
    // The daemon's clock starts 3 s before 02:00 UTC (HOZIRON_TEST_NOW), so the real daemon
    // meets the slot in seconds rather than at a real cron minute.
    const slot = Date.UTC(2030, 0, 1, 2, 0, 0);
    const t = home(['schedule = "0 2 * * *"']);
    const api = await startDaemon(t, { HOZIRON_TEST_NOW: new Date(slot - 3000).toISOString() });
    const before = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    expect(before.body.next_run).toBe(new Date(slot).toISOString());
    expect(archives(t.home.defaultStorage)).toEqual([]);

    expect(await waitFor(() => archives(t.home.defaultStorage).length === 1, 30_000)).toBe(true);
    // The run records its success, then the scheduler arms the following slot: wait for both.
    const armedAgain = (s: BackupStatusResponse) => s.last_success !== null && s.next_run !== new Date(slot).toISOString();
    let status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    for (let i = 0; i < 40 && !armedAgain(status.body); i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    }
    expect(status.body.last_success?.trigger).toBe('schedule');
    expect(status.body.next_run).toBe(new Date(slot + 86400_000).toISOString());
  });

  it('refuses a HOZIRON_TEST_NOW that is not a time, at start', async () => {
    const t = home(['schedule = "0 2 * * *"']);
    const r = await t.cliAsync(['start'], { HOZIRON_TEST_NOW: 'tomorrow' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/HOZIRON_TEST_NOW: expected an RFC 3339 time/);
  });
});
