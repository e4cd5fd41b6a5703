/**
 * Section (c): `hoziron backup restore <archive> --confirm` into a copy of the reference
 * home against `tar -xzf` of the same archive into an empty directory. Bar (report.ts,
 * issue 4): the restore itself — verification on, swap included, the safety backup of the
 * current state excluded — at most 1.2× tar's wall time; peak RSS < 200 MB. The safety
 * backup's time and the end-to-end total are reported on their own lines.
 *
 * The safety-backup time comes from the phase timings the restore prints with --json
 * (any numeric field of a `timings`/`phases` object whose name mentions "safety"); when
 * the command reports none, the bar is checked against the whole command, which is then
 * stricter than the bar, and a note says so.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, hoziron, parseJson } from '../hoziron.js';
import { median, quiesce, runMeasured } from '../measure.js';
import { failureOf, figuresOf, medianPhase, medianWall, memoryCheck, ratioCheck, type Operation, type Section } from '../report.js';
import { copyTree } from '../tree.js';
import { interleave, type BenchContext } from './context.js';

/** Phase durations in seconds from a restore's JSON result (`*_ms` fields are converted). */
export function phasesOf(result: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof result !== 'object' || result === null) return out;
  const r = result as Record<string, unknown>;
  const holder = r.timings ?? r.phases ?? r.timing;
  if (typeof holder !== 'object' || holder === null) return out;
  for (const [k, v] of Object.entries(holder as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (/_ms$/.test(k)) out[k.replace(/_ms$/, '')] = v / 1000;
    else out[k.replace(/_(s|seconds)$/, '')] = v;
  }
  return out;
}

const safetyPhase = (phases: Record<string, number>): number | undefined => Object.entries(phases).find(([k]) => /safety/i.test(k))?.[1];

export async function benchRestore(ctx: BenchContext, archive: string | undefined, tarArchive: string): Promise<Section> {
  const ours: Operation = { name: 'hoziron backup restore --confirm', runs: [] };
  const tar: Operation = { name: 'tar -xzf (same archive)', runs: [] };
  const notes: string[] = [
    "each timed run, ours or tar's, starts on a quiet disk: after the previous restore's background cleanup and a `sync`",
  ];
  if (!hasCommand('backup', 'restore')) ours.error = 'not available in this build (skipped)';
  else if (!archive) ours.error = 'no hoziron archive to restore (create did not run)';
  const source = archive ?? tarArchive;
  if (!archive) notes.push("tar -xzf extracts tar -czf's archive, since hoziron made none");

  // The restore target is a full copy of the reference home, so the safety backup and the
  // swap work on a realistic current state.
  const target = join(ctx.work, 'restore-home');
  if (!ours.error) {
    ctx.log('  copying the reference home as the restore target');
    copyTree(ctx.pristine, target);
  }
  const extractDir = join(ctx.work, 'tar-extract');

  const runOurs = async () => {
    if (ours.error) return;
    await quiesce([target]);
    const m = await hoziron(['backup', 'restore', source, '--confirm', '--home', target, '--json']);
    if (m.code !== 0) {
      ours.error = failureOf(m);
      return;
    }
    const phases = phasesOf(parseJson(m.stdout));
    const safety = safetyPhase(phases);
    ours.runs.push(figuresOf(m, { phases: { ...phases, ...(safety !== undefined ? { safety_backup: safety } : {}) } }));
  };
  const runTar = async () => {
    rmSync(extractDir, { recursive: true, force: true });
    mkdirSync(extractDir);
    await quiesce([target]);
    const m = await runMeasured('tar', ['-xzf', source, '-C', extractDir]);
    if (m.code !== 0) tar.error = failureOf(m);
    else tar.runs.push(figuresOf(m));
  };

  for (let i = 0; i < ctx.runs; i++) {
    ctx.log(`  restore run ${i + 1}/${ctx.runs}`);
    if (interleave(i) === 'ours-first') {
      await runOurs();
      await runTar();
    } else {
      await runTar();
      await runOurs();
    }
  }
  rmSync(extractDir, { recursive: true, force: true });

  const operations = [ours, tar];
  const total = ours.error ? undefined : medianWall(ours);
  const safety = medianPhase(ours, 'safety_backup');
  let itself = total;
  if (total !== undefined && safety !== undefined) {
    // Per run (wall − its own safety backup), then the median: the figure shown in the table.
    itself = median(ours.runs.map((r) => r.wall_s - (r.phases?.safety_backup ?? 0)));
    operations.splice(
      1,
      0,
      { name: '  of which: safety backup', runs: ours.runs.map((r) => ({ wall_s: r.phases?.safety_backup ?? NaN, peak_rss_bytes: null })) },
      {
        name: '  restore itself (total − safety)',
        runs: ours.runs.map((r) => ({ wall_s: r.wall_s - (r.phases?.safety_backup ?? 0), peak_rss_bytes: null })),
      },
    );
    const reported = [...new Set(ours.runs.flatMap((r) => Object.keys(r.phases ?? {})))]
      .filter((k) => k !== 'safety_backup')
      .map((k) => `${k} ${medianPhase(ours, k)?.toFixed(2)}s`);
    if (reported.length) notes.push(`phases as the command reports them (median): ${reported.join(', ')}`);
  } else if (total !== undefined) {
    notes.push('the restore reports no safety-backup time: the bar is checked on the whole command, safety backup included');
  }
  return {
    title: `backup restore vs tar -xzf of the same archive (${ctx.runs} runs each, interleaved; median wall, max RSS)`,
    operations,
    checks: [ratioCheck('restore wall (verify + swap) vs tar -xzf', itself, medianWall(tar), 1.2, '≤ 1.20×'), memoryCheck(ours)],
    notes,
  };
}
