/**
 * Restoring, side by side (SPEC §9, issues 12 and 14), on the archives of the backup
 * section's last run (all of the same state). Each run, in a rotating order:
 * `hoziron backup restore --confirm` of the plain archive and of the encrypted one (into a
 * full copy of the reference home, so the safety point and the swap work on a realistic
 * current state), the dry run, `backup verify`, `restic restore` of the same state into an
 * empty directory, and `tar -xzf` of tar's archive for reference.
 *
 * Bars: restore end to end (the whole command: checksum, every entry, databases, audit
 * chain, safety point, swap) ≤ restic restore; dry run ≤ 0.5× restore; verify ≤ restic
 * restore; encrypted restore ≤ 1.10× plain and its peak RSS ≤ 1.10× plain; peak RSS
 * ≤ 128 MB. Work a restore leaves running after it exits (a background cleaner) is waited
 * for outside the timed window and reported beside it. Phase times come from the
 * command's own `timings`, whatever phases it names.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { useEncryption, type BenchEncryption } from '../encryption.js';
import { hasCommand, hoziron, parseJson } from '../hoziron.js';
import { median, quiesce, runMeasured } from '../measure.js';
import { failureOf, figuresOf, goodWall, maxRss, memoryCheck, phasesOf, ratioCheck, type Operation, type Section } from '../report.js';
import { copyTree } from '../tree.js';
import { resticEnv } from '../tools.js';
import type { BackupArchives } from './backup.js';
import { rotation, type BenchContext } from './context.js';

export async function benchRestore(ctx: BenchContext, archives: BackupArchives, enc: BenchEncryption | undefined): Promise<Section[]> {
  const plain: Operation = { name: 'hoziron backup restore --confirm', runs: [] };
  const encrypted: Operation = { name: 'hoziron backup restore --confirm, encrypted', runs: [] };
  const dry: Operation = { name: 'hoziron backup restore (dry run)', runs: [] };
  const verify: Operation = { name: 'hoziron backup verify', runs: [] };
  const restic: Operation = { name: 'restic restore', runs: [] };
  const tar: Operation = { name: 'tar -xzf (tar -czf archive)', runs: [] };
  const skip = (op: Operation, why: string) => (op.error ??= why);
  const canRestore = hasCommand('backup', 'restore');
  for (const op of [plain, encrypted, dry]) if (!canRestore) skip(op, 'not in this build (skipped)');
  if (!hasCommand('backup', 'verify')) skip(verify, 'not in this build (skipped)');
  for (const op of [plain, dry, verify]) if (!archives.plain) skip(op, 'no hoziron archive (create did not run)');
  if (!archives.encrypted || !enc) skip(encrypted, 'no encrypted archive (skipped)');
  if (!archives.resticSnapshot) skip(restic, 'no restic snapshot (skipped)');
  if (!archives.tar) skip(tar, 'no tar archive (skipped)');

  const target = join(ctx.work, 'restore-home');
  if (!plain.error || !encrypted.error) {
    ctx.log('  copying the reference home as the restore target');
    copyTree(ctx.pristine, target);
  }
  const background: number[] = [];
  const ours = async (op: Operation, args: string[], encryptedConfig: boolean, home = target) => {
    if (op.error) return;
    useEncryption(target, ctx.pristine, encryptedConfig ? enc : undefined);
    await quiesce([target]);
    const m = await hoziron([...args, '--home', home, '--json']);
    if (m.code !== 0) {
      op.error = failureOf(m);
      return;
    }
    op.runs.push(figuresOf(m, { phases: phasesOf(parseJson(m.stdout)) }));
    if (args.includes('--confirm')) background.push(await quiesce([target]));
  };
  const extractDir = join(ctx.work, 'extract');
  const theirs = async (op: Operation, cmd: string, args: string[], env?: NodeJS.ProcessEnv) => {
    if (op.error) return;
    rmSync(extractDir, { recursive: true, force: true });
    mkdirSync(extractDir);
    await quiesce([target]);
    const m = await runMeasured(cmd, args, { env });
    if (m.code !== 0) op.error = failureOf(m);
    else op.runs.push(figuresOf(m));
  };
  const identity = enc ? ['--identity', enc.identityFile] : [];
  const contenders = [
    () => ours(plain, ['backup', 'restore', archives.plain ?? '', '--confirm'], false),
    () => ours(encrypted, ['backup', 'restore', archives.encrypted ?? '', '--confirm', ...identity], true),
    () => ours(dry, ['backup', 'restore', archives.plain ?? ''], false),
    () => ours(verify, ['backup', 'verify', archives.plain ?? ''], false, ctx.home),
    () => theirs(restic, 'restic', ['restore', archives.resticSnapshot ?? '', '--target', extractDir], resticEnv(ctx.work)),
    () => theirs(tar, 'tar', ['-xzf', archives.tar ?? '', '-C', extractDir]),
  ];
  for (let i = 0; i < ctx.runs; i++) {
    ctx.log(`  restore run ${i + 1}/${ctx.runs}`);
    for (const step of rotation(i, contenders)) await step();
  }
  rmSync(extractDir, { recursive: true, force: true });

  const notes = [
    "each timed run, ours or a reference tool's, starts on a quiet disk: after the previous restore's background work and a `sync`",
    'restore end to end is the whole command, safety point included; restic and tar restore into an empty directory',
  ];
  if (background.length) {
    notes.push(
      `work left running after a restore exited (waited for, not timed): median ${median(background).toFixed(2)}s, max ${Math.max(...background).toFixed(2)}s`,
    );
  }
  const restoreSection: Section = {
    title: `restore of the same state (${ctx.runs} runs each, rotating order; median wall, min–max, max RSS)`,
    operations: [plain, dry, verify, restic, tar],
    checks: [
      ratioCheck('restore end to end vs restic restore', goodWall(plain), goodWall(restic), 1.0, '≤ 1.00×'),
      ratioCheck('dry run vs restore', goodWall(dry), goodWall(plain), 0.5, '≤ 0.50×'),
      ratioCheck('verify vs restic restore', goodWall(verify), goodWall(restic), 1.0, '≤ 1.00×'),
      memoryCheck(plain),
      memoryCheck(dry),
      memoryCheck(verify),
    ],
    notes,
  };
  const encSection: Section = {
    title: 'encrypted restore (age, SPEC §10) against plain restore of the same state',
    operations: [encrypted],
    checks: [
      ratioCheck('encrypted restore vs plain restore', goodWall(encrypted), goodWall(plain), 1.1, '≤ 1.10×'),
      ratioCheck(
        'encrypted restore peak RSS vs plain',
        encrypted.error ? undefined : (maxRss(encrypted) ?? undefined),
        plain.error ? undefined : (maxRss(plain) ?? undefined),
        1.1,
        '≤ 1.10×',
      ),
      memoryCheck(encrypted),
    ],
    notes: ['the restore is given the identity with --identity; the safety point is encrypted to the same recipient'],
  };
  return [restoreSection, encSection];
}
