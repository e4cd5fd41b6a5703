/**
 * `npm run bench`: the side-by-side benchmark (README.md#performance). Builds (or reuses) the reference
 * home in `.bench-cache/`, copies it to a scratch directory, then in one run measures
 * backup create vs `tar -czf`, backup verify, restore vs `tar -xzf`, and the daemon's write
 * latency with and without a backup running. Prints a table with each bar marked PASS or
 * FAIL and writes the figures to `.bench-cache/last-run.json`.
 *
 * Settings (environment): HOZIRON_BENCH_SCALE (default 1), HOZIRON_BENCH_SEED (1),
 * HOZIRON_BENCH_RUNS (3), HOZIRON_BENCH_SECTIONS (create,restore,daemon),
 * HOZIRON_BENCH_BASELINE_S (5, the daemon's baseline write period).
 * Commands that this build does not have yet are skipped with a note, not failed.
 * The machine is shared: each pair is run several times, interleaved, and the median used.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../src/cli/format.js';
import { HOZIRON_VERSION as VERSION } from '../src/version.js';
import { ensureReferenceHome } from './cache.js';
import { REPO_ROOT } from './hoziron.js';
import { HAVE_GNU_TIME } from './measure.js';
import { renderSection, type Section } from './report.js';
import { benchBackup } from './sections/backup.js';
import type { BenchContext } from './sections/context.js';
import { benchDaemon, type DaemonOutcome } from './sections/daemon.js';
import { benchRestore } from './sections/restore.js';
import { benchUpload } from './sections/upload.js';
import { copyTree } from './tree.js';

function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not "${text}"`);
  return n;
}

async function main(): Promise<number> {
  const scale = numberFromEnv('HOZIRON_BENCH_SCALE', 1);
  const seed = numberFromEnv('HOZIRON_BENCH_SEED', 1);
  const runs = Math.round(numberFromEnv('HOZIRON_BENCH_RUNS', 3));
  const baselineSeconds = numberFromEnv('HOZIRON_BENCH_BASELINE_S', 5);
  const sections = new Set((process.env.HOZIRON_BENCH_SECTIONS ?? 'create,restore,daemon').split(',').map((s) => s.trim()));
  const cacheDir = join(REPO_ROOT, '.bench-cache');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = new Date().toISOString();

  const cached = await ensureReferenceHome(cacheDir, scale, seed, log);
  const s = cached.summary;
  log(
    `reference home ${cached.reused ? '(cached)' : `(generated in ${s.seconds.toFixed(1)}s)`}: ` +
      `${s.files} files, ${formatBytes(s.bytes)} — scale ${scale}, seed ${seed}`,
  );

  const work = join(cacheDir, 'work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const ctx: BenchContext = { home: join(work, 'home'), work, pristine: cached.home, runs, log };
  log('copying the reference home to a working copy');
  copyTree(cached.home, ctx.home);

  const results: Section[] = [];
  let daemon: DaemonOutcome | undefined;
  try {
    if (sections.has('create') || sections.has('restore')) {
      log('backup create vs tar -czf, and verify');
      const backup = await benchBackup(ctx);
      results.push(backup.create, backup.verify);
      if (sections.has('restore')) {
        log('restore vs tar -xzf');
        results.push(await benchRestore(ctx, backup.archive, backup.tarArchive));
      }
    }
    if (sections.has('daemon')) {
      log('daemon write latency');
      daemon = await benchDaemon(ctx, baselineSeconds);
      results.push(daemon.section);
    }
    if (sections.has('upload')) results.push(await benchUpload(ctx));
  } finally {
    // The scratch copies are large; keep the cached reference home only.
    rmSync(work, { recursive: true, force: true });
  }

  const header = [
    `Hoziron ${VERSION} benchmark, ${startedAt}`,
    `reference home: scale ${scale}, seed ${seed}: ${s.files} files, ${formatBytes(s.bytes)} ` +
      `(${s.messages} session messages, ${s.audit_events} audit events)`,
    `machine: ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ` + `peak RSS by ${HAVE_GNU_TIME ? 'GNU time %M and a /proc tree sampler' : 'a /proc tree sampler'}`,
  ];
  process.stdout.write(`${header.join('\n')}\n\n${results.map(renderSection).join('\n\n')}\n`);

  const checks = results.flatMap((r) => r.checks);
  const failed = checks.filter((c) => c.verdict === 'FAIL');
  const verdict = `${checks.filter((c) => c.verdict === 'PASS').length} PASS, ${failed.length} FAIL, ${
    checks.filter((c) => c.verdict === 'SKIP').length
  } SKIP`;
  process.stdout.write(`\n${verdict}\n`);

  const jsonPath = join(cacheDir, 'last-run.json');
  writeFileSync(
    jsonPath,
    `${JSON.stringify(
      {
        started_at: startedAt,
        hoziron_version: VERSION,
        scale,
        seed,
        runs,
        reference_home: s,
        machine: { cpus: cpus().length, loadavg: loadavg() },
        sections: results,
        daemon: daemon ? { baseline: daemon.baseline, during_backup: daemon.during_backup, backup: daemon.backup } : undefined,
        verdict,
      },
      null,
      2,
    )}\n`,
  );
  log(`figures written to ${jsonPath}`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
