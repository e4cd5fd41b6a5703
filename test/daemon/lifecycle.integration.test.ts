import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDaemonStatus } from '../../src/home/run.js';
import { BIN } from '../support/cli.js';
import { ageFile, deadPid, otherNamespaceOwner, ownerRecord } from '../support/owner.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

describe('daemon lifecycle', () => {
  let t: TestHome;
  let api: ApiClient;
  beforeAll(async () => {
    t = makeHome();
    api = await startDaemon(t);
  });
  afterAll(async () => t.cleanup());

  it('start binds port 0 to a real port and publishes it in the pid file', async () => {
    expect(api.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(api.address).not.toMatch(/:0$/);
    const pid = JSON.parse(readFileSync(t.home.pidFile, 'utf8')) as { pid: number; address: string; started_at: string };
    expect(pid.address).toBe(api.address);
    expect(readDaemonStatus(t.home)).toMatchObject({ running: true, pid: pid.pid, address: api.address });
    const h = await api.request<{ status: string; version: string; uptime_seconds: number }>('GET', '/v1/health');
    expect(h.status).toBe(200);
    expect(h.body.status).toBe('ok');
  });

  it('status and health report the running daemon', async () => {
    const s = await t.cliAsync(['status', '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ running: true, address: api.address });
    const h = await t.cliAsync(['health']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^ok: hoziron /);
  });

  it('doctor says the daemon answers', async () => {
    const r = await t.cliAsync(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as { checks: { check: string; status: string; message: string }[] };
    expect(report.checks.find((c) => c.check === 'daemon')).toMatchObject({ status: 'ok', message: expect.stringContaining(api.address) });
  });

  it('a second start on the same home refuses', async () => {
    const r = await t.cliAsync(['start']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: a Hoziron daemon already runs on /m);
  });

  it('a second foreground daemon refuses too, through the lock', async () => {
    const r = await t.cliAsync(['start', '--foreground']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already runs/);
  });

  it('stop waits for exit and removes the pid file and lock; health then fails', async () => {
    const r = await t.cliAsync(['stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stopped/);
    expect(existsSync(t.home.pidFile)).toBe(false);
    expect(existsSync(t.home.daemonLock)).toBe(false);
    expect((await t.cliAsync(['status', '--json'])).stdout).toContain('"running": false');
    const h = await t.cliAsync(['health']);
    expect(h.code).toBe(1);
    expect(h.stderr).toMatch(/^error: /m);
    expect((await t.cliAsync(['stop'])).stdout).toMatch(/not running/);
  });

  it('doctor fails when the pid file names a live process that does not answer', async () => {
    // The lock names this test process (alive, here); its pid file an address nobody answers.
    writeFileSync(t.home.daemonLock, JSON.stringify({ ...ownerRecord(), operation: 'daemon' }));
    writeFileSync(t.home.pidFile, JSON.stringify({ pid: process.pid, address: '127.0.0.1:1', started_at: new Date().toISOString() }));
    const r = await t.cliAsync(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as { checks: { check: string; status: string; message: string }[] };
    expect(report.checks.find((c) => c.check === 'daemon')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/does not answer/),
    });
    expect(r.code).toBe(1);
  });

  it('a stale pid file and lock (dead pid) are taken over by the next start', async () => {
    const dead = deadPid();
    writeFileSync(t.home.daemonLock, JSON.stringify({ ...ownerRecord({ pid: dead, start_time: '1' }), operation: 'daemon' }));
    writeFileSync(t.home.pidFile, JSON.stringify({ pid: dead, address: '127.0.0.1:1', started_at: new Date().toISOString() }));
    expect(readDaemonStatus(t.home).running).toBe(false);
    api = await startDaemon(t);
    expect(readDaemonStatus(t.home).running).toBe(true);
  });

  it('stop never signals a daemon in another PID namespace (its pid 1 is not ours); status says it runs elsewhere', async () => {
    expect((await t.cliAsync(['stop'])).code).toBe(0);
    writeFileSync(t.home.daemonLock, JSON.stringify({ ...otherNamespaceOwner({ host: 'other-pod' }), operation: 'daemon' }));
    const stop = await t.cliAsync(['stop']);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toMatch(/^error: the daemon on .* cannot be signalled from here: another host, boot or PID namespace/m);
    expect(stop.stderr).toMatch(/^hint: run `hoziron stop` where the daemon runs/m);
    expect(JSON.parse((await t.cliAsync(['status', '--json'])).stdout)).toMatchObject({
      running: true,
      pid: 1,
      local: false,
      host: 'other-pod',
    });
    // A second start refuses while it beats, and takes the lock over once its heartbeat is old.
    expect((await t.cliAsync(['start'])).stderr).toMatch(/already runs/);
    const doctor = await t.cliAsync(['doctor', '--break-lock', 'daemon']);
    expect(doctor.code).toBe(1);
    expect(doctor.stderr).toMatch(/held by a live owner/);
    ageFile(t.home.daemonLock, 5 * 60_000);
    expect(readDaemonStatus(t.home).running).toBe(false);
    expect((await t.cliAsync(['stop'])).stdout).toMatch(/not running/);
    api = await startDaemon(t);
    expect(readDaemonStatus(t.home)).toMatchObject({ running: true, address: api.address });
  });

  it('--foreground logs to stdout and stops gracefully on SIGINT, removing its files', async () => {
    expect((await t.cliAsync(['stop'])).code).toBe(0);
    const child = spawn(process.execPath, [BIN, '--home', t.dir, 'start', '--foreground'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(readDaemonStatus(t.home)).toMatchObject({ running: true, pid: child.pid });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/stopping \(SIGINT\)/);
    expect(existsSync(t.home.pidFile)).toBe(false);
    expect(existsSync(t.home.daemonLock)).toBe(false);
  });
});
