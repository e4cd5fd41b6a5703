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

  it('a schedule set for the next minute produces a backup within a minute of that time', async () => {
    // The next whole minute at least 10 s away, as a 5-field UTC cron expression.
    const slot = new Date(Math.ceil((Date.now() + 10_000) / 60_000) * 60_000);
    const t = home([`schedule = "${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *"`]);
    const api = await startDaemon(t);
    const status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    expect(status.body.next_run).toBe(slot.toISOString());
    const made = await waitFor(() => archives(t.home.defaultStorage).length === 1, slot.getTime() + 60_000 - Date.now());
    expect(made).toBe(true);
    const record = archives(t.home.defaultStorage)[0]!;
    // hoziron-backup-YYYYMMDD_HHMMSS.tar.gz: created within a minute of the slot.
    const m = /(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})/.exec(record)!;
    const created = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    expect(created - slot.getTime()).toBeGreaterThanOrEqual(0);
    expect(created - slot.getTime()).toBeLessThan(60_000);
  }, 150_000);
});
