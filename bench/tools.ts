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

export function ensureReferenceTools(log: (line: string) => void): ReferenceTools {
  const notes: string[] = [];
  const missing = [has('pigz') ? undefined : 'pigz', resticVersion() ? undefined : 'restic'].filter((p): p is string => !!p);
  if (missing.length) {
    const asRoot = process.getuid?.() === 0;
    const apt = (args: string[]) => spawnSync(asRoot ? 'apt-get' : 'sudo', asRoot ? args : ['-n', 'apt-get', ...args], { stdio: 'ignore' });
    log(`installing ${missing.join(', ')} with apt-get`);
    const ok = apt(['update']).status === 0 && apt(['install', '-y', '--no-install-recommends', ...missing]).status === 0;
    notes.push(ok ? `installed ${missing.join(', ')} with apt-get` : `could not install ${missing.join(', ')} with apt-get`);
  }
  const tools = { tar: has('tar'), pigz: has('pigz'), restic: resticVersion(), notes };
  for (const t of ['tar', 'pigz', 'restic'] as const) if (!tools[t]) notes.push(`${t} is not installed: its figures are skipped`);
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
