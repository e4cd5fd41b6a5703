/**
 * The benchmark's results: what was measured (operations, each run several times), the
 * bars (README.md#performance) checked against them, and their rendering as a readable table. The same
 * objects are written as JSON, so a later run or a reviewer can compare figures exactly.
 */
import { formatBytes, renderTable } from '../src/cli/format.js';
import { median, type Measurement } from './measure.js';

export interface RunFigures {
  wall_s: number;
  peak_rss_bytes: number | null;
  size_bytes?: number;
  rss_largest_process_bytes?: number | null;
  rss_tree_sampled_bytes?: number;
  /** Phase times the command itself reported (seconds), e.g. a restore's safety backup. */
  phases?: Record<string, number>;
}

export interface Operation {
  name: string;
  runs: RunFigures[];
  /** Set when the command failed or was not available; the figures are then partial. */
  error?: string;
  note?: string;
}

type Verdict = 'PASS' | 'FAIL' | 'SKIP';

export interface Check {
  name: string;
  value: string;
  bar: string;
  verdict: Verdict;
}

export interface Section {
  title: string;
  operations: Operation[];
  /** Extra figures that are not timed operations (e.g. latency distributions). */
  tables?: { header: string[]; rows: string[][] }[];
  checks: Check[];
  notes: string[];
}

export function figuresOf(m: Measurement, extra: Partial<RunFigures> = {}): RunFigures {
  return {
    wall_s: m.wall_s,
    peak_rss_bytes: m.peak_rss_bytes,
    rss_largest_process_bytes: m.rss_largest_process_bytes,
    rss_tree_sampled_bytes: m.rss_tree_sampled_bytes,
    ...extra,
  };
}

export const medianWall = (op: Operation): number => median(op.runs.map((r) => r.wall_s));
const maxRss = (op: Operation): number | null => {
  const v = op.runs.map((r) => r.peak_rss_bytes).filter((x): x is number => x !== null);
  return v.length ? Math.max(...v) : null;
};
export const medianSize = (op: Operation): number | undefined => {
  const v = op.runs.map((r) => r.size_bytes).filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
};
export const medianPhase = (op: Operation, phase: string): number | undefined => {
  const v = op.runs.map((r) => r.phases?.[phase]).filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
};

/** Failure message of a command: its first `error:` line, else the end of its stderr. */
export function failureOf(m: Measurement): string {
  const line = m.stderr.split('\n').find((l) => l.startsWith('error:'));
  return `exit ${m.code}: ${(line ?? m.stderr.trim().split('\n').slice(-1)[0] ?? '').slice(0, 300)}`;
}

const MEMORY_BAR_BYTES = 200 * 1024 * 1024;

/** `value ≤ bar` (or `<` when strict) as a check; SKIP when either side is missing. */
export function ratioCheck(name: string, ours: number | undefined, theirs: number | undefined, bar: number, barText: string): Check {
  if (ours === undefined || theirs === undefined || !Number.isFinite(ours) || !Number.isFinite(theirs) || theirs <= 0) {
    return { name, value: 'n/a', bar: barText, verdict: 'SKIP' };
  }
  const ratio = ours / theirs;
  return { name, value: `${ratio.toFixed(2)}×`, bar: barText, verdict: ratio <= bar ? 'PASS' : 'FAIL' };
}

export function memoryCheck(op: Operation): Check {
  const rss = op.error ? null : maxRss(op);
  const name = `${op.name}: peak RSS`;
  if (rss === null) return { name, value: 'n/a', bar: '< 200 MB', verdict: 'SKIP' };
  return { name, value: formatBytes(rss), bar: '< 200 MB', verdict: rss < MEMORY_BAR_BYTES ? 'PASS' : 'FAIL' };
}

const seconds = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(2)}s` : '-');

export function renderSection(section: Section): string {
  const lines = [`== ${section.title}`];
  const rows = section.operations.map((op) => {
    if (op.runs.length === 0) return [op.name, '-', '-', '-', '-', op.error ?? op.note ?? ''];
    const size = medianSize(op);
    const rss = maxRss(op);
    return [
      op.name,
      seconds(medianWall(op)),
      op.runs.map((r) => r.wall_s.toFixed(2)).join(' / '),
      size === undefined ? '-' : formatBytes(size),
      rss === null ? '-' : formatBytes(rss),
      op.error ?? op.note ?? '',
    ];
  });
  if (rows.length) lines.push(...renderTable(['operation', 'median wall', 'runs (s)', 'archive', 'peak RSS', 'note'], rows));
  for (const t of section.tables ?? []) lines.push(...renderTable(t.header, t.rows));
  for (const c of section.checks) lines.push(`  ${c.verdict.padEnd(4)}  ${c.name.padEnd(48)} ${c.value.padStart(9)}   bar ${c.bar}`);
  for (const n of section.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
