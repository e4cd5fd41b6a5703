/**
 * Section (a) and (b): `hoziron backup create` against `tar -czf` of the same tree (the
 * home's backup scope: everything but its backups directory and runtime files), then
 * `hoziron backup verify` of the archive made. Bars (report.ts): create wall ≤ 1.0× tar's,
 * archive no larger than tar's, peak RSS < 200 MB.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupRecord } from '../../src/api/types.js';
import { SCOPE_ITEMS } from '../../src/home/layout.js';
import { hasCommand, hoziron, parseJson } from '../hoziron.js';
import { quiesce, runMeasured } from '../measure.js';
import { failureOf, figuresOf, medianSize, medianWall, memoryCheck, ratioCheck, type Operation, type Section } from '../report.js';
import { interleave, type BenchContext } from './context.js';

export interface BackupOutcome {
  create: Section;
  verify: Section;
  /** The newest archive `hoziron backup create` made, for the restore section. */
  archive?: string;
  /** tar's archive of the same tree, kept for the restore section when ours is missing. */
  tarArchive: string;
}

/** The home-relative items tar archives: the full backup scope, as far as it exists. */
function tarItems(home: string): string[] {
  return SCOPE_ITEMS.full.map((i) => i.replace(/\/$/, '')).filter((i) => existsSync(join(home, i)));
}

export async function benchBackup(ctx: BenchContext): Promise<BackupOutcome> {
  const canCreate = hasCommand('backup', 'create');
  const ours: Operation = { name: 'hoziron backup create', runs: [] };
  const tar: Operation = { name: 'tar -czf', runs: [] };
  const tarArchive = join(ctx.work, 'tar.tar.gz');
  let record: BackupRecord | undefined;
  if (!canCreate) ours.error = 'not available in this build (skipped)';

  const runOurs = async () => {
    if (ours.error) return;
    await quiesce();
    const m = await hoziron(['backup', 'create', '--home', ctx.home, '--json']);
    const r = parseJson<BackupRecord>(m.stdout);
    if (m.code !== 0 || !r) {
      ours.error = m.code !== 0 ? failureOf(m) : 'no JSON record on stdout';
      return;
    }
    record = r;
    ours.runs.push(figuresOf(m, { size_bytes: statSync(r.path).size }));
  };
  const runTar = async () => {
    rmSync(tarArchive, { force: true });
    await quiesce();
    const m = await runMeasured('tar', ['-czf', tarArchive, '-C', ctx.home, ...tarItems(ctx.home)]);
    if (m.code !== 0) tar.error = failureOf(m);
    else tar.runs.push(figuresOf(m, { size_bytes: statSync(tarArchive).size }));
  };

  for (let i = 0; i < ctx.runs; i++) {
    ctx.log(`  create run ${i + 1}/${ctx.runs}`);
    if (interleave(i) === 'ours-first') {
      await runOurs();
      await runTar();
    } else {
      await runTar();
      await runOurs();
    }
  }

  const createChecks = [
    ratioCheck('create wall vs tar -czf', ours.error ? undefined : medianWall(ours), medianWall(tar), 1.0, '≤ 1.00×'),
    ratioCheck('archive size vs tar -czf', ours.error ? undefined : medianSize(ours), medianSize(tar), 1.0, '≤ 1.00×'),
    memoryCheck(ours),
  ];
  const create: Section = {
    title: `backup create vs tar -czf of the same tree (${ctx.runs} runs each, interleaved; median wall, max RSS)`,
    operations: [ours, tar],
    checks: createChecks,
    notes: ["each timed run, ours or tar's, starts after a `sync` (no write-back left over from the run before)"],
  };

  const verifyOp: Operation = { name: 'hoziron backup verify', runs: [] };
  if (!hasCommand('backup', 'verify')) verifyOp.error = 'not available in this build (skipped)';
  else if (!record) verifyOp.error = 'no archive to verify (create did not run)';
  for (let i = 0; i < ctx.runs && !verifyOp.error && record; i++) {
    ctx.log(`  verify run ${i + 1}/${ctx.runs}`);
    await quiesce();
    const m = await hoziron(['backup', 'verify', record.id, '--home', ctx.home, '--json']);
    if (m.code !== 0) verifyOp.error = failureOf(m);
    else verifyOp.runs.push(figuresOf(m, { size_bytes: record.size_bytes }));
  }
  const verify: Section = {
    title: `backup verify of that archive (${ctx.runs} runs; median wall, max RSS)`,
    operations: [verifyOp],
    checks: [memoryCheck(verifyOp)],
    notes: [],
  };
  return { create, verify, archive: record?.path, tarArchive };
}
