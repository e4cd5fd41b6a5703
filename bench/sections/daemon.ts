/**
 * Section (d): the daemon's write latency with and without a backup running (README.md#performance: the
 * daemon keeps answering and writing to its memory database while a backup runs). One
 * client writes key-value pairs without pause (`PUT /v1/agents/{agent}/kv/{key}`, one at a
 * time over a keep-alive connection): first for a baseline period, then while
 * `POST /v1/backup/create` runs, until it answers. Reports p50/p99/max and failures.
 * Bar (SPEC §9): the write p99 during the backup at most 2× the idle p99 (medians over the
 * runs; each run a baseline, then a backup). Each backup is a first one (no archive in
 * storage), the heaviest case.
 *
 * The daemon runs on the working copy of the reference home, on a free loopback port
 * (`listen = "127.0.0.1:0"`; the bound address comes from `hoziron start --json`), with an
 * operator key minted for the run. It is always stopped again, also when a step fails.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { HomeLayout } from '../../src/home/layout.js';
import { formatBytes } from '../../src/cli/format.js';
import { hasCommand, hozironSync, parseJson } from '../hoziron.js';
import { median, percentile } from '../measure.js';
import { ratioCheck, type Check, type Section } from '../report.js';
import type { BenchContext } from './context.js';

interface HttpResult {
  status: number;
  body: string;
  ms: number;
}

function call(agent: Agent, address: string, method: string, path: string, token: string, body?: unknown): Promise<HttpResult> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(
      {
        agent,
        host,
        port,
        method,
        path,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - started }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, body: err.message, ms: performance.now() - started }));
    req.end(payload);
  });
}

interface LatencyFigures {
  writes: number;
  failed: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  seconds: number;
  first_failure?: string;
}

class Writer {
  private n = 0;
  constructor(
    private readonly agent: Agent,
    private readonly address: string,
    private readonly token: string,
  ) {}

  /** Write without pause until `done()` is true; every write is timed. */
  async writeUntil(done: () => boolean): Promise<LatencyFigures> {
    const latencies: number[] = [];
    let failed = 0;
    let firstFailure: string | undefined;
    const started = performance.now();
    while (!done()) {
      const i = this.n++;
      const r = await call(this.agent, this.address, 'PUT', `/v1/agents/bench-writer/kv/key-${i % 5000}`, this.token, {
        value: { i, at: Date.now(), note: 'benchmark write while the daemon serves' },
      });
      latencies.push(r.ms);
      if (r.status !== 200) {
        failed++;
        firstFailure ??= `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
      }
    }
    return {
      writes: latencies.length,
      failed,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      max_ms: latencies.length ? Math.max(...latencies) : NaN,
      seconds: (performance.now() - started) / 1000,
      ...(firstFailure ? { first_failure: firstFailure } : {}),
    };
  }
}

const latencyRow = (name: string, l: LatencyFigures): string[] => [
  name,
  String(l.writes),
  `${l.seconds.toFixed(1)}s`,
  `${(l.writes / l.seconds).toFixed(0)}/s`,
  `${l.p50_ms.toFixed(1)} ms`,
  `${l.p99_ms.toFixed(1)} ms`,
  `${l.max_ms.toFixed(0)} ms`,
  String(l.failed),
];

interface BackupCall {
  status: number;
  seconds: number;
  size_bytes?: number;
  error?: string;
}

/** One run: the idle baseline, then the same writes while an API backup runs. */
interface DaemonRun {
  baseline: LatencyFigures;
  during_backup: LatencyFigures;
  backup: BackupCall;
}

export interface DaemonOutcome {
  section: Section;
  runs: DaemonRun[];
}

/** Remove the archives in storage, so that each API backup is a first one (the heaviest case). */
function emptyStorage(storage: string): void {
  mkdirSync(storage, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(storage)) if (name.startsWith('hoziron-backup-')) rmSync(join(storage, name), { force: true });
}

export async function benchDaemon(ctx: BenchContext, baselineSeconds: number): Promise<DaemonOutcome> {
  const section: Section = { title: 'daemon write latency, without and with a backup running', operations: [], checks: [], notes: [] };
  const runs: DaemonRun[] = [];
  if (!hasCommand('start') || !hasCommand('stop')) {
    section.notes.push('the daemon (hoziron start/stop) is not in this build yet: section skipped');
    return { section, runs };
  }
  const home = new HomeLayout(ctx.home);
  const config = readFileSync(home.config, 'utf8');
  writeFileSync(home.config, config.replace(/^listen\s*=.*$/m, 'listen = "127.0.0.1:0"'));
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let started = false;
  try {
    const key = parseJson<{ token: string }>(
      hozironSync(['key', 'create', '--role', 'operator', '--name', 'bench', '--json', '--home', ctx.home]),
    );
    if (!key?.token) throw new Error('key create --json printed no token');
    const info = parseJson<{ address: string; pid: number }>(hozironSync(['start', '--json', '--home', ctx.home]));
    if (!info?.address) throw new Error('start --json printed no address');
    started = true;
    ctx.log(`  daemon pid ${info.pid} on ${info.address}`);

    const probe = await call(agent, info.address, 'PUT', '/v1/agents/bench-writer/kv/probe', key.token, { value: 1 });
    if (probe.status !== 200) {
      section.notes.push(`the key-value route is not available (PUT answered ${probe.status}): section skipped`);
      return { section, runs };
    }
    const writer = new Writer(agent, info.address, key.token);
    // Warm the connection and the database pages.
    let warm = 0;
    await writer.writeUntil(() => warm++ >= 200);
    for (let i = 0; i < ctx.runs; i++) {
      emptyStorage(home.defaultStorage);
      ctx.log(`  run ${i + 1}/${ctx.runs}: baseline, writing for ${baselineSeconds}s`);
      const until = performance.now() + baselineSeconds * 1000;
      const baseline = await writer.writeUntil(() => performance.now() >= until);

      ctx.log(`  run ${i + 1}/${ctx.runs}: writing while POST /v1/backup/create runs`);
      let backupDone = false;
      const backupStarted = performance.now();
      const backupCall = call(agent, info.address, 'POST', '/v1/backup/create', key.token, { scope: 'full' }).finally(() => {
        backupDone = true;
      });
      const during = await writer.writeUntil(() => backupDone);
      const b = await backupCall;
      runs.push({
        baseline,
        during_backup: during,
        backup: {
          status: b.status,
          seconds: (performance.now() - backupStarted) / 1000,
          ...(b.status === 200 || b.status === 201
            ? { size_bytes: (parseJson<{ size_bytes?: number }>(b.body) ?? {}).size_bytes }
            : { error: b.body.slice(0, 300) }),
        },
      });
      if (b.status === 404) break; // no backup route: one run says so
    }

    section.tables = [
      {
        header: ['PUT /v1/agents/{agent}/kv/{key}', 'writes', 'for', 'rate', 'p50', 'p99', 'max', 'failed'],
        rows: runs.flatMap((r, i) => [
          latencyRow(`run ${i + 1}: without a backup`, r.baseline),
          latencyRow(`run ${i + 1}: while a backup runs`, r.during_backup),
        ]),
      },
    ];
    for (const r of runs) {
      if (r.during_backup.first_failure) section.notes.push(`first failed write: ${r.during_backup.first_failure}`);
      section.notes.push(
        `backup over the API: HTTP ${r.backup.status} after ${r.backup.seconds.toFixed(1)}s` +
          (r.backup.size_bytes ? `, ${formatBytes(r.backup.size_bytes)}` : r.backup.error ? `: ${r.backup.error}` : ''),
      );
    }
    const missing = runs.some((r) => r.backup.status === 404);
    if (missing) section.notes.push('POST /v1/backup/create is not available yet: the "during" figures are not meaningful');
    const ok = runs.every((r) => r.backup.status >= 200 && r.backup.status < 300);
    const failedWrites = runs.reduce((n, r) => n + r.during_backup.failed, 0);
    const writes = runs.reduce((n, r) => n + r.during_backup.writes, 0);
    const idleP99 = median(runs.map((r) => r.baseline.p99_ms));
    const duringP99 = median(runs.map((r) => r.during_backup.p99_ms));
    section.notes.push(`p99 ratio per run: ${runs.map((r) => `${(r.during_backup.p99_ms / r.baseline.p99_ms).toFixed(2)}×`).join(', ')}`);
    const checks: Check[] = [
      {
        name: 'backups over the API succeeded',
        value: runs.map((r) => `HTTP ${r.backup.status}`).join(', '),
        bar: '2xx',
        verdict: missing ? 'SKIP' : ok ? 'PASS' : 'FAIL',
      },
      {
        name: 'writes kept succeeding during the backups',
        value: `${failedWrites}/${writes} failed`,
        bar: '0 failed, > 0 written',
        verdict: missing ? 'SKIP' : failedWrites === 0 && writes > 0 ? 'PASS' : 'FAIL',
      },
      missing
        ? { name: 'write p99 during an API backup vs idle p99 (medians)', value: 'n/a', bar: '≤ 2.00×', verdict: 'SKIP' }
        : ratioCheck('write p99 during an API backup vs idle p99 (medians)', duringP99, idleP99, 2.0, '≤ 2.00×'),
    ];
    section.checks.push(...checks);
    return { section, runs };
  } catch (err) {
    section.notes.push(`section failed: ${(err as Error).message}`);
    section.checks.push({ name: 'daemon section ran', value: 'error', bar: 'ran', verdict: 'FAIL' });
    return { section, runs };
  } finally {
    agent.destroy();
    if (started) {
      try {
        hozironSync(['stop', '--home', ctx.home]);
      } catch (err) {
        section.notes.push(`could not stop the daemon: ${(err as Error).message}`);
      }
    }
    writeFileSync(home.config, config);
  }
}
