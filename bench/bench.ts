/**
 * `npm run bench`: the side-by-side benchmark (README.md#performance, SPEC §9). Builds (or
 * reuses) the reference home in `.bench-cache/`, copies it to a scratch directory, then in
 * one run measures hoziron beside GNU tar, tar + pigz and restic (installed with apt-get
 * when missing): first and second backups (after a small change), encrypted and plain,
 * restore end to end, dry run and verify against restic's restore, list/show memory, and
 * the daemon's write latency with and without a backup running. Prints each median with
 * its min–max, the phases the commands report, PASS/FAIL per bar, and writes every figure
 * to `.bench-cache/last-run.json` (and `last-run-scale<N>.json`, for the 1× / 4× memory view).
 *
 * Settings (environment): HOZIRON_BENCH_SCALE (default 1), HOZIRON_BENCH_SEED (1),
 * HOZIRON_BENCH_RUNS (3), HOZIRON_BENCH_SECTIONS (create,restore,daemon),
 * HOZIRON_BENCH_BASELINE_S (5, the daemon's baseline write period), HOZIRON_BENCH_TOOLS
 * (tar,pigz,restic; "none" for a hoziron-only run, e.g. the memory check at scale 4).
 * Commands that this build does not have yet are skipped with a note, not failed.
 * The machine is shared: contenders run in a rotating order, several times, medians used.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { formatBytes } from '../src/cli/format.js';
import { HOZIRON_VERSION as VERSION } from '../src/version.js';
import { ensureReferenceHome } from './cache.js';
import { makeIdentity } from './encryption.js';
import { REPO_ROOT } from './hoziron.js';
import { HAVE_GNU_TIME } from './measure.js';
import { memoryByScale, renderSection, type Section } from './report.js';
import { benchBackup, type BackupArchives } from './sections/backup.js';
import type { BenchContext } from './sections/context.js';
import { benchDaemon, type DaemonOutcome } from './sections/daemon.js';
import { benchRestore } from './sections/restore.js';
import { benchUpload } from './sections/upload.js';
import { ensureReferenceTools } from './tools.js';
import { copyTree } from './tree.js';

function numberFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not "${text}"`);
  return n;
}

function listFromEnv(name: string, fallback: string): Set<string> {
  return new Set((process.env[name] || fallback).split(',').map((s) => s.trim()));
}

const fmtLoad = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');

async function main(): Promise<number> {
  const scale = numberFromEnv('HOZIRON_BENCH_SCALE', 1);
  const seed = numberFromEnv('HOZIRON_BENCH_SEED', 1);
  const runs = Math.round(numberFromEnv('HOZIRON_BENCH_RUNS', 3));
  const baselineSeconds = numberFromEnv('HOZIRON_BENCH_BASELINE_S', 5);
  const sections = listFromEnv('HOZIRON_BENCH_SECTIONS', 'create,restore,daemon');
  const cacheDir = join(REPO_ROOT, '.bench-cache');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = new Date().toISOString();

  const cached = await ensureReferenceHome(cacheDir, scale, seed, log);
  const s = cached.summary;
  log(
    `reference home ${cached.reused ? '(cached)' : `(generated in ${s.seconds.toFixed(1)}s)`}: ` +
      `${s.files} files, ${formatBytes(s.bytes)} — scale ${scale}, seed ${seed}`,
  );

  // One scratch directory per scale, so a 4× memory run can go beside a 1× run.
  const work = join(cacheDir, `work-scale${scale}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const tools = ensureReferenceTools(log, listFromEnv('HOZIRON_BENCH_TOOLS', 'tar,pigz,restic'));
  const ctx: BenchContext = { home: join(work, 'home'), work, pristine: cached.home, runs, scale, seed, tools, log };
  log('copying the reference home to a working copy');
  copyTree(cached.home, ctx.home);

  const loadAtStart = loadavg();
  const results: Section[] = [];
  let daemon: DaemonOutcome | undefined;
  try {
    const enc = makeIdentity(work);
    let archives: BackupArchives = {};
    if (sections.has('create') || sections.has('restore')) {
      log('first and second backups: hoziron (plain, encrypted), tar -czf, tar + pigz, restic');
      const backup = await benchBackup(ctx, enc);
      results.push(...backup.sections);
      archives = backup.archives;
    }
    if (sections.has('restore')) {
      log('restore, dry run and verify vs restic restore and tar -xzf');
      results.push(...(await benchRestore(ctx, archives, enc)));
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

  // Peak RSS per command at each scale measured so far (this run and the last one of the other scales).
  const scaleFiles = [1, 4, scale]
    .filter((v, i, a) => a.indexOf(v) === i)
    .map((sc) => ({ scale: sc, file: join(cacheDir, `last-run-scale${sc}.json`) }));
  const earlier = scaleFiles
    .filter((f) => f.scale !== scale && existsSync(f.file))
    .map((f) => ({ scale: f.scale, sections: (JSON.parse(readFileSync(f.file, 'utf8')) as { sections: Section[] }).sections }));
  const memory = memoryByScale([...earlier, { scale, sections: results }].sort((a, b) => a.scale - b.scale));
  if (memory) results.push(memory);

  const header = [
    `Hoziron ${VERSION} benchmark, ${startedAt}`,
    `reference home: scale ${scale}, seed ${seed}: ${s.files} files, ${formatBytes(s.bytes)} ` +
      `(${s.messages} session messages, ${s.audit_events} audit events)`,
    `machine: ${cpus().length} CPUs, load average (1/5/15 min) ${fmtLoad(loadAtStart)} at the start, ${fmtLoad(loadavg())} at the end; ` +
      `peak RSS by ${HAVE_GNU_TIME ? 'GNU time %M and a /proc tree sampler' : 'a /proc tree sampler'}`,
    ...tools.notes.map((n) => `note: ${n}`),
  ];
  process.stdout.write(`${header.join('\n')}\n\n${results.map(renderSection).join('\n\n')}\n`);

  const checks = results.flatMap((r) => r.checks);
  const failed = checks.filter((c) => c.verdict === 'FAIL');
  const verdict = `${checks.filter((c) => c.verdict === 'PASS').length} PASS, ${failed.length} FAIL, ${
    checks.filter((c) => c.verdict === 'SKIP').length
  } SKIP`;
  process.stdout.write(`\n${verdict}\n`);

  const jsonPath = join(cacheDir, 'last-run.json');
  const json = `${JSON.stringify(
    {
      started_at: startedAt,
      hoziron_version: VERSION,
      scale,
      seed,
      runs,
      reference_home: s,
      machine: { cpus: cpus().length, loadavg_start: loadAtStart, loadavg_end: loadavg() },
      tools,
      sections: results,
      daemon: daemon ? { runs: daemon.runs } : undefined,
      verdict,
    },
    null,
    2,
  )}\n`;
  writeFileSync(jsonPath, json);
  writeFileSync(join(cacheDir, `last-run-scale${scale}.json`), json);
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
