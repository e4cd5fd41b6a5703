/**
 * Backup failures are visible to monitoring (issue 11, item 5): `GET /v1/health` says
 * `degraded` with machine-readable reasons, `hoziron health` exits 1, and
 * `GET /v1/backup/status` answers 200 with the storage error instead of 500. Real daemon on
 * 127.0.0.1 (port 0); a schedule slot is reached in seconds with the daemon's test clock.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackupStatusResponse, HealthResponse } from '../../src/api/daemon.js';
import type { BackupRecord } from '../../src/api/types.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

async function health(api: ApiClient): Promise<HealthResponse> {
  const r = await api.withToken(undefined).request<HealthResponse>('GET', '/v1/health');
  expect(r.status).toBe(200);
  return r.body;
}

const codes = (h: HealthResponse) => h.reasons.map((r) => r.code).sort();

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    v = await probe();
  }
  return v;
}

describe('health and backup status when backups fail', () => {
  const homes: TestHome[] = [];
  const home = (lines: string[] = []) => {
    const t = makeHome(lines);
    homes.push(t);
    return t;
  };
  afterEach(async () => {
    for (const t of homes.splice(0)) await t.cleanup();
  });

  it('storage removed or not writable: health degraded and exit 1, status 200 with the error; fixed: ok again', async () => {
    const t = home();
    const api = await startDaemon(t);
    expect(await health(api)).toMatchObject({ status: 'ok', reasons: [] });
    expect((await t.cliAsync(['health'])).code).toBe(0);

    const storage = t.home.defaultStorage;
    renameSync(storage, `${storage}.aside`);
    let h = await health(api);
    expect(h.status).toBe('degraded');
    expect(codes(h)).toEqual(['storage_missing']);
    const cli = await t.cliAsync(['health']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^degraded: hoziron /m);
    expect(cli.stdout).toMatch(/^ {2}storage_missing: the backup storage path does not exist/m);

    // A file where the directory should be: not writable, even for root.
    writeFileSync(storage, 'not a directory');
    h = await health(api);
    expect(codes(h)).toEqual(['storage_unwritable']);
    expect(JSON.stringify(h)).not.toContain(storage); // health needs no token: no paths in it
    const json = await t.cliAsync(['health', '--json']);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as HealthResponse).reasons[0]?.code).toBe('storage_unwritable');
    const status = await api.request<BackupStatusResponse>('GET', '/v1/backup/status');
    expect(status.status).toBe(200);
    expect(status.body.storage).toMatchObject({ path: storage, ok: false, error: `${storage} is not a directory`, archives: null });

    rmSync(storage);
    renameSync(`${storage}.aside`, storage);
    expect(await health(api)).toMatchObject({ status: 'ok', reasons: [] });
    expect((await api.request<BackupStatusResponse>('GET', '/v1/backup/status')).body.storage).toMatchObject({ ok: true, error: null });
    expect((await t.cliAsync(['health'])).code).toBe(0);
  });

  it('a failed scheduled backup makes health degraded until a backup succeeds', async () => {
    // A daily slot at the next whole minute; the daemon's clock starts 3 s before it, so the
    // slot comes in seconds, and backups made now are not years away from the daemon's "now".
    const slot = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
    const t = home([`schedule = "${slot.getUTCMinutes()} ${slot.getUTCHours()} * * *"`]);
    const storage = t.home.defaultStorage;
    rmSync(storage, { recursive: true });
    writeFileSync(storage, 'not a directory');
    const api = await startDaemon(t, { HOZIRON_TEST_NOW: new Date(slot.getTime() - 3000).toISOString() });
    const warned = /warn backup storage: .* is not a directory; backups will fail and health is degraded/;
    expect(
      await until(
        async () => readFileSync(t.home.daemonLog, 'utf8'),
        (log) => warned.test(log),
      ),
    ).toMatch(warned);

    const failed = await until(
      () => api.request<BackupStatusResponse>('GET', '/v1/backup/status'),
      (s) => s.body.last_scheduled !== null,
    );
    expect(failed.status).toBe(200);
    expect(failed.body.last_scheduled).toMatchObject({ trigger: 'schedule', ok: false });
    expect(failed.body.last_scheduled?.error).toBeTruthy();
    expect(codes(await health(api))).toEqual(['scheduled_backup_failed', 'storage_unwritable']);

    // Storage fixed: the failure still counts until a backup has succeeded.
    rmSync(storage);
    mkdirSync(storage, { mode: 0o700 });
    expect(codes(await health(api))).toEqual(['scheduled_backup_failed']);
    const cli = await t.cliAsync(['health']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/^ {2}scheduled_backup_failed: the scheduled backup started at .* failed/m);

    expect((await api.request<BackupRecord>('POST', '/v1/backup/create', { scope: 'full' })).status).toBe(200);
    expect(await health(api)).toMatchObject({ status: 'ok', reasons: [] });
    expect((await t.cliAsync(['health'])).code).toBe(0);
  });

  it('a newest backup older than two schedule periods makes health degraded', async () => {
    const t = home(['schedule = "0 2 * * *"']);
    expect((await t.cliAsync(['backup', 'create'])).code).toBe(0);
    // By the daemon's clock the backup just made is three days old (daily schedule).
    const api = await startDaemon(t, { HOZIRON_TEST_NOW: new Date(Date.now() + 3 * 86400_000).toISOString() });
    const h = await health(api);
    expect(h.status).toBe('degraded');
    expect(codes(h)).toEqual(['backup_stale']);
    expect(h.reasons[0]?.message).toMatch(/the newest backup is 3\.0 days old: more than two schedule periods \(24\.0 h each\)/);
    expect((await t.cliAsync(['health'])).code).toBe(1);
  });
});
