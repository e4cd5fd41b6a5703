/**
 * Running one command under measurement: wall time (monotonic clock, spawn to exit) and
 * peak memory of its whole process tree. Peak RSS is the larger of two readings: GNU
 * time's `%M` (the kernel's exact high-water mark of the largest single process in the
 * tree, from wait4) and a 50 ms sampler that sums the proportional set size (Pss) over
 * every live descendant, which catches several processes being large at once without
 * counting twice the pages a forked child still shares with its parent (a plain VmRSS sum
 * does). Without /usr/bin/time only the sampler is used, and the result says so.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
export const HAVE_GNU_TIME = existsSync(GNU_TIME);

export interface Measurement {
  command: string;
  code: number;
  wall_s: number;
  /** Peak RSS of the process tree in bytes; null if it could not be read. */
  peak_rss_bytes: number | null;
  rss_method: 'gnu-time+sampler' | 'sampler';
  /** The two readings behind `peak_rss_bytes` (largest single process; sampled tree Pss sum). */
  rss_largest_process_bytes: number | null;
  rss_tree_sampled_bytes: number;
  stdout: string;
  stderr: string;
}

/** Direct children of `pid` (all threads), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch {
      // the task ended between readdir and read
    }
  }
  return out;
}

/** Proportional set size of one process (shared pages divided among their sharers). */
function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // no smaps_rollup (old kernel) or the process ended: fall back to VmRSS
  }
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of Pss over every descendant of `root` (not `root` itself: it is the time wrapper). */
function treeRss(root: number, includeRoot: boolean): number {
  let total = includeRoot ? pssBytes(root) : 0;
  const stack = childrenOf(root);
  while (stack.length) {
    const pid = stack.pop()!;
    total += pssBytes(pid);
    stack.push(...childrenOf(pid));
  }
  return total;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called once the child has started (for work that must run beside it). */
  onStart?: (pid: number) => void;
}

let counter = 0;

export function runMeasured(cmd: string, args: string[], opts: RunOptions = {}): Promise<Measurement> {
  const timeFile = join(tmpdir(), `hoziron-bench-time-${process.pid}-${counter++}`);
  const [file, argv] = HAVE_GNU_TIME ? [GNU_TIME, ['-f', '%M', '-o', timeFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let sampled = 0;
    const sample = () => {
      if (child.pid) sampled = Math.max(sampled, treeRss(child.pid, !HAVE_GNU_TIME));
    };
    const timer = setInterval(sample, 50);
    if (child.pid && opts.onStart) opts.onStart(child.pid);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('close', (code) => {
      const wall = (performance.now() - started) / 1000;
      clearInterval(timer);
      let gnu: number | null = null;
      if (HAVE_GNU_TIME) {
        try {
          // The file's last line is %M; earlier lines carry "Command exited with non-zero status".
          const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
          const kb = Number(lines[lines.length - 1]);
          if (Number.isFinite(kb)) gnu = kb * 1024;
        } catch {
          // no time file: the wrapper itself failed; fall back to the sampler
        }
        rmSync(timeFile, { force: true });
      }
      const peak = Math.max(gnu ?? 0, sampled);
      resolve({
        command: [cmd, ...args].join(' '),
        code: code ?? -1,
        wall_s: wall,
        peak_rss_bytes: peak > 0 ? peak : null,
        rss_method: HAVE_GNU_TIME ? 'gnu-time+sampler' : 'sampler',
        rss_largest_process_bytes: gnu,
        rss_tree_sampled_bytes: sampled,
        stdout,
        stderr,
      });
    });
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * Bring the machine to the same quiet state before every timed operation, ours or the
 * reference tool's: wait for a restore's background cleaner in any of `homes` to finish
 * deleting the old state (a `*.cleaner` file beside the tree in `.restore/`), then `sync`,
 * so no run pays for the write-back of the setup copy or of the run before it. Returns the
 * seconds spent waiting for cleaners: work a restore left running after it exited.
 */
export async function quiesce(homes: string[] = []): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + 600_000;
  const cleaning = () =>
    homes.some((h) => {
      try {
        return readdirSync(join(h, '.restore')).some((n) => n.endsWith('.cleaner'));
      } catch {
        return false;
      }
    });
  while (cleaning() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const waited = (performance.now() - started) / 1000;
  spawnSync('sync');
  return waited;
}
