/**
 * The reference tools the benchmark measures hoziron against: GNU tar (gzip), tar with
 * pigz, and restic (Debian's packages). Missing ones are installed with apt-get (after an
 * `apt-get update`) when this user can; a tool that is still missing is skipped with a
 * note, never a failure of the run. restic works on a repository in the run's scratch
 * directory with a fixed password and its own cache there, so nothing outside is touched.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface ReferenceTools {
  tar: boolean;
  pigz: boolean;
  restic: boolean;
  /** What was installed, or why not. */
  notes: string[];
}

const has = (bin: string): boolean => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
const resticVersion = (): boolean => spawnSync('restic', ['version'], { stdio: 'ignore' }).status === 0;

/**
 * The tools named in `wanted` (HOZIRON_BENCH_TOOLS, default all three; "none" for a
 * hoziron-only run such as the memory check at scale 4), installed when missing.
 */
export function ensureReferenceTools(log: (line: string) => void, wanted: ReadonlySet<string>): ReferenceTools {
  const notes: string[] = [];
  if (!wanted.has('tar') || !wanted.has('pigz') || !wanted.has('restic')) {
    notes.push(`reference tools limited to "${[...wanted].join(',')}" by HOZIRON_BENCH_TOOLS: the others are skipped`);
  }
  const missing = [
    wanted.has('pigz') && !has('pigz') ? 'pigz' : undefined,
    wanted.has('restic') && !resticVersion() ? 'restic' : undefined,
  ].filter((p): p is string => !!p);
  if (missing.length) {
    const asRoot = process.getuid?.() === 0;
    const apt = (args: string[]) => spawnSync(asRoot ? 'apt-get' : 'sudo', asRoot ? args : ['-n', 'apt-get', ...args], { stdio: 'ignore' });
    log(`installing ${missing.join(', ')} with apt-get`);
    const ok = apt(['update']).status === 0 && apt(['install', '-y', '--no-install-recommends', ...missing]).status === 0;
    notes.push(ok ? `installed ${missing.join(', ')} with apt-get` : `could not install ${missing.join(', ')} with apt-get`);
  }
  const tools = {
    tar: wanted.has('tar') && has('tar'),
    pigz: wanted.has('pigz') && has('pigz'),
    restic: wanted.has('restic') && resticVersion(),
    notes,
  };
  for (const t of ['tar', 'pigz', 'restic'] as const)
    if (wanted.has(t) && !tools[t]) notes.push(`${t} is not installed: its figures are skipped`);
  return tools;
}

/** The environment restic runs with: the scratch repository, a fixed password, a local cache. */
export function resticEnv(work: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RESTIC_REPOSITORY: join(work, 'restic-repo'),
    RESTIC_PASSWORD: 'hoziron-bench',
    RESTIC_CACHE_DIR: join(work, 'restic-cache'),
  };
}

/** The snapshot id in `restic backup --json` output (its last line is the summary). */
export function resticSnapshotId(stdout: string): string | undefined {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const msg = JSON.parse(line) as { message_type?: string; snapshot_id?: string };
      if (msg.message_type === 'summary' && msg.snapshot_id) return msg.snapshot_id;
    } catch {
      // a progress line cut short: keep looking
    }
  }
  return undefined;
}
