/**
 * Creating backups, side by side (SPEC §9, issues 12 and 14). Each run, in a rotating order:
 * - first (cold) backups of the same home: `hoziron backup create` plain and encrypted
 *   (each into an empty storage directory), `tar -czf`, tar with pigz and a first
 *   `restic backup` into a new repository;
 * - then a small change to the home (bench/home/mutate.ts: 1 % of files, a few thousand
 *   rows), and the second backups: `hoziron backup create` with the first archive in
 *   storage against restic's second backup (its parent snapshot in the repository);
 *   the second archive must be a standard tar.gz that GNU tar reads on its own (and `sha256sum -c` passes);
 * - `backup list` and `backup show`, for their memory.
 * Bars: first create ≤ 0.45× tar -czf, archive no larger than tar's; create again ≤
 * restic's second backup; encrypted create ≤ 1.10× plain, its peak RSS ≤ 1.10× plain;
 * peak RSS ≤ 128 MB for every command. The archives of the last run are kept for the
 * restore section.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BackupRecord } from '../../src/api/types.js';
import { formatBytes } from '../../src/cli/format.js';
import { HomeLayout, SCOPE_ITEMS } from '../../src/home/layout.js';
import { useEncryption, type BenchEncryption } from '../encryption.js';
import { mutateHome, type Mutation } from '../home/mutate.js';
import { hasCommand, hoziron, parseJson } from '../hoziron.js';
import { quiesce, runMeasured, type Measurement } from '../measure.js';
import {
  factCheck,
  failureOf,
  figuresOf,
  goodWall,
  maxRss,
  medianSize,
  memoryCheck,
  phasesOf,
  ratioCheck,
  type Operation,
  type Section,
} from '../report.js';
import { resticEnv, resticSnapshotId } from '../tools.js';
import { rotation, type BenchContext } from './context.js';

/** What the restore section restores: the last run's first backups, all of the same state. */
export interface BackupArchives {
  plain?: string;
  encrypted?: string;
  tar?: string;
  resticSnapshot?: string;
}

export interface BackupOutcome {
  sections: Section[];
  archives: BackupArchives;
}

/** The home-relative items tar and restic archive: the full backup scope, as far as it exists. */
function scopeItems(home: string): string[] {
  return SCOPE_ITEMS.full.map((i) => i.replace(/\/$/, '')).filter((i) => existsSync(join(home, i)));
}

const unavailable = (op: Operation, why: string): void => {
  op.error ??= why;
};

/** Move an archive and its sidecars (`<archive>.sha256`, `.json`, …) into `dir`, emptied first. */
function moveArchive(archive: string, dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const from = join(archive, '..');
  for (const name of readdirSync(from)) {
    if (name.startsWith(basename(archive))) renameSync(join(from, name), join(dir, name));
  }
  return join(dir, basename(archive));
}

/**
 * Whether the archive stands alone as a standard tar.gz: GNU tar lists it without a word on
 * stderr, MANIFEST.json first, and `sha256sum -c` passes on its sidecar.
 */
function tarReadsAlone(archive: string): { ok: boolean; detail: string } {
  const r = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const entries = r.stdout.split('\n').filter(Boolean);
  if (r.status !== 0 || r.stderr.trim() !== '' || entries[0] !== 'MANIFEST.json') {
    return { ok: false, detail: `tar -tzf exit ${r.status}: ${r.stderr.trim().split('\n')[0] || `first entry ${entries[0]}`}` };
  }
  const sum = spawnSync('sha256sum', ['-c', `${basename(archive)}.sha256`], { cwd: dirname(archive), encoding: 'utf8' });
  if (sum.status !== 0) return { ok: false, detail: `sha256sum -c: ${(sum.stdout + sum.stderr).trim().split('\n')[0] ?? ''}` };
  return { ok: true, detail: `${entries.length} entries, sha256sum -c OK` };
}

export async function benchBackup(ctx: BenchContext, enc: BenchEncryption | undefined): Promise<BackupOutcome> {
  const storage = new HomeLayout(ctx.home).defaultStorage;
  const items = scopeItems(ctx.home);
  const rEnv = resticEnv(ctx.work);
  const kept = { plain: join(ctx.work, 'first-plain'), encrypted: join(ctx.work, 'first-encrypted') };
  const archives: BackupArchives = {};

  const first: Operation = { name: 'hoziron backup create (first)', runs: [] };
  const firstEnc: Operation = { name: 'hoziron backup create, encrypted (first)', runs: [] };
  const tar: Operation = { name: 'tar -czf', runs: [] };
  const pigz: Operation = { name: 'tar + pigz', runs: [] };
  const restic: Operation = { name: 'restic backup (first)', runs: [] };
  const again: Operation = { name: 'hoziron backup create (again)', runs: [] };
  const resticAgain: Operation = { name: 'restic backup (again)', runs: [] };
  const list: Operation = { name: 'hoziron backup list', runs: [] };
  const show: Operation = { name: 'hoziron backup show', runs: [] };
  if (!hasCommand('backup', 'create')) for (const op of [first, firstEnc, again]) unavailable(op, 'not in this build (skipped)');
  if (!enc) unavailable(firstEnc, 'no `backup keygen` in this build (skipped)');
  if (!hasCommand('backup', 'list')) unavailable(list, 'not in this build (skipped)');
  if (!hasCommand('backup', 'show')) unavailable(show, 'not in this build (skipped)');
  if (!ctx.tools.tar) unavailable(tar, 'GNU tar not installed or not selected (skipped)');
  if (!ctx.tools.tar || !ctx.tools.pigz) unavailable(pigz, 'pigz not installed or not selected (skipped)');
  if (!ctx.tools.restic) for (const op of [restic, resticAgain]) unavailable(op, 'restic not installed or not selected (skipped)');

  /** One `backup create --json` under measurement; the record, or undefined (op.error set). */
  const create = async (op: Operation, encrypted: boolean): Promise<BackupRecord | undefined> => {
    if (op.error) return undefined;
    useEncryption(ctx.home, ctx.pristine, encrypted ? enc : undefined);
    await quiesce();
    const m = await hoziron(['backup', 'create', '--home', ctx.home, '--json']);
    useEncryption(ctx.home, ctx.pristine, undefined);
    const r = parseJson<BackupRecord>(m.stdout);
    if (m.code !== 0 || !r) {
      op.error = m.code !== 0 ? failureOf(m) : 'no JSON record on stdout';
      return undefined;
    }
    op.runs.push(figuresOf(m, { size_bytes: statSync(r.path).size, phases: phasesOf(r) }));
    return r;
  };
  const measuredTool = async (op: Operation, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
    if (op.error) return undefined;
    await quiesce();
    const m = await runMeasured(cmd, args, opts);
    if (m.code !== 0) {
      op.error = failureOf(m);
      return undefined;
    }
    return m;
  };
  const resticBackup = async (op: Operation): Promise<Measurement | undefined> => {
    const m = await measuredTool(op, 'restic', ['backup', '--json', '-q', '--host', 'hoziron-bench', ...items], {
      cwd: ctx.home,
      env: rEnv,
    });
    if (m) op.runs.push(figuresOf(m));
    return m;
  };

  const mutations: Mutation[] = [];
  let secondArchive: { ok: boolean; detail: string } | undefined;
  for (let i = 0; i < ctx.runs; i++) {
    ctx.log(`  first backups, run ${i + 1}/${ctx.runs}`);
    rmSync(storage, { recursive: true, force: true });
    mkdirSync(storage, { mode: 0o700 });
    const firstBackups = [
      async () => {
        const r = await create(first, false);
        if (r) archives.plain = moveArchive(r.path, kept.plain);
      },
      async () => {
        const r = await create(firstEnc, true);
        if (r) archives.encrypted = moveArchive(r.path, kept.encrypted);
      },
      async () => {
        const out = join(ctx.work, 'tar.tar.gz');
        rmSync(out, { force: true });
        const m = await measuredTool(tar, 'tar', ['-czf', out, '-C', ctx.home, ...items]);
        if (m) tar.runs.push(figuresOf(m, { size_bytes: statSync(out).size }));
        if (m) archives.tar = out;
      },
      async () => {
        const out = join(ctx.work, 'pigz.tar.gz');
        rmSync(out, { force: true });
        const m = await measuredTool(pigz, 'tar', ['-I', 'pigz', '-cf', out, '-C', ctx.home, ...items]);
        if (m) pigz.runs.push(figuresOf(m, { size_bytes: statSync(out).size }));
        rmSync(out, { force: true });
      },
      async () => {
        if (restic.error) return;
        for (const d of ['restic-repo', 'restic-cache']) rmSync(join(ctx.work, d), { recursive: true, force: true });
        const init = spawnSync('restic', ['init', '-q'], { env: rEnv, encoding: 'utf8' });
        if (init.status !== 0) return unavailable(restic, `restic init: ${init.stderr.trim().split('\n')[0] ?? ''}`);
        const m = await resticBackup(restic);
        if (m) archives.resticSnapshot = resticSnapshotId(m.stdout);
        const repo = spawnSync('du', ['-sb', join(ctx.work, 'restic-repo')], { encoding: 'utf8' });
        const bytes = Number(repo.stdout.split('\t')[0]);
        if (m && Number.isFinite(bytes)) restic.runs[restic.runs.length - 1]!.size_bytes = bytes;
      },
    ];
    for (const step of rotation(i, firstBackups)) await step();

    // The state after a first create: its archive in storage, the previous run's gone.
    if (archives.plain) archives.plain = moveArchive(archives.plain, storage);
    const mutation = mutateHome(ctx.home, ctx.seed, i + 1, ctx.scale);
    mutations.push(mutation);
    ctx.log(`  small change (${mutation.files} files, ${mutation.rows_updated} rows updated), second backups`);
    const secondBackups = [
      async () => {
        if (!archives.plain) return unavailable(again, 'no first archive in storage (skipped)');
        const r = await create(again, false);
        if (r) secondArchive = tarReadsAlone(r.path);
        if (r && !secondArchive?.ok) again.note = `not a standalone tar.gz: ${secondArchive?.detail}`;
      },
      async () => {
        if (!archives.resticSnapshot) return unavailable(resticAgain, 'no first snapshot (skipped)');
        await resticBackup(resticAgain);
      },
    ];
    for (const step of rotation(i, secondBackups)) await step();

    for (const [op, args] of [
      [list, ['backup', 'list', '--home', ctx.home, '--json']],
      [show, archives.plain ? ['backup', 'show', archives.plain, '--home', ctx.home, '--json'] : undefined],
    ] as const) {
      if (op.error) continue;
      if (!args) {
        unavailable(op, 'no archive to show');
        continue;
      }
      const m = await hoziron([...args]);
      if (m.code !== 0) op.error = failureOf(m);
      else op.runs.push(figuresOf(m));
    }
  }
  if (archives.resticSnapshot === undefined && restic.runs.length) restic.note = 'no snapshot id in its --json summary';
  if (tar.error) archives.tar = undefined;

  const createSection: Section = {
    title: `first backup of the same home (${ctx.runs} runs each, rotating order; median wall, min–max, max RSS)`,
    operations: [first, firstEnc, tar, pigz, restic],
    checks: [
      ratioCheck('create (first) vs tar -czf', goodWall(first), goodWall(tar), 0.45, '≤ 0.45×'),
      ratioCheck('archive size vs tar -czf', first.error ? undefined : medianSize(first), medianSize(tar), 1.0, '≤ 1.00×'),
      memoryCheck(first),
    ],
    notes: [
      "each timed run, ours or a reference tool's, starts after a `sync`; hoziron's first creates start from an empty storage directory, restic's from a new repository",
      'restic: the size is its repository on disk (compressed, deduplicated); tar + pigz compresses on every core',
    ],
  };
  const againSection: Section = {
    title: `second backup after a small change (${ctx.runs} runs each, rotating order)`,
    operations: [again, resticAgain],
    checks: [
      ratioCheck('create (again) vs restic backup (again)', goodWall(again), goodWall(resticAgain), 1.0, '≤ 1.00×'),
      factCheck(
        'second archive: standard tar.gz (`tar -tzf` alone, `sha256sum -c`)',
        again.error ? undefined : secondArchive?.ok,
        secondArchive?.ok ? 'yes' : 'no',
        'yes',
      ),
      memoryCheck(again),
    ],
    notes: mutations.length
      ? [
          `the change per run: ${mutations[0]!.files} files rewritten (${formatBytes(mutations[0]!.bytes)}), ` +
            `${mutations[0]!.rows_updated} database rows updated and ${mutations[0]!.rows_added} added (bench/home/mutate.ts; a new change each run)`,
        ]
      : [],
  };
  if (secondArchive && !secondArchive.ok) againSection.notes.push(`tar -tzf: ${secondArchive.detail}`);
  const encRss = maxRss(firstEnc) ?? undefined;
  const plainRss = maxRss(first) ?? undefined;
  const encSection: Section = {
    title: 'encrypted create (age, SPEC §10) against plain create of the same home',
    operations: [],
    checks: [
      ratioCheck('encrypted create vs plain create', goodWall(firstEnc), goodWall(first), 1.1, '≤ 1.10×'),
      ratioCheck(
        'encrypted create peak RSS vs plain',
        firstEnc.error ? undefined : encRss,
        first.error ? undefined : plainRss,
        1.1,
        '≤ 1.10×',
      ),
      ratioCheck('encrypted archive size vs plain', firstEnc.error ? undefined : medianSize(firstEnc), medianSize(first), 1.01, '≤ 1.01×'),
      memoryCheck(firstEnc),
    ],
    notes: ['the encrypted and plain creates are rows of the first-backup table above'],
  };
  const otherSection: Section = {
    title: 'listing and showing backups (memory)',
    operations: [list, show],
    checks: [memoryCheck(list), memoryCheck(show)],
    notes: [],
  };
  return { sections: [createSection, againSection, encSection, otherSection], archives };
}
