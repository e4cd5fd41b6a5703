/**
 * The benchmark's results: what was measured (operations, each run several times), the
 * bars (README.md#performance, SPEC §9) checked against them, and their rendering as a
 * readable table: each median with the min–max of its runs beside it (the machine's noise),
 * and the phase times the command reported. The same objects are written as JSON, so a
 * later run or a reviewer can compare figures exactly.
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

/**
 * Phase durations in seconds from a command's JSON result: any numeric field of its
 * `timings` (or `phases`/`timing`) object, `*_ms` fields converted, `*_s` taken as seconds.
 */
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

const medianWall = (op: Operation): number => median(op.runs.map((r) => r.wall_s));
/** The median wall time of an operation that ran without error, else undefined (its bar is skipped). */
export const goodWall = (op: Operation): number | undefined => (op.error || op.runs.length === 0 ? undefined : medianWall(op));
export const maxRss = (op: Operation): number | null => {
  const v = op.runs.map((r) => r.peak_rss_bytes).filter((x): x is number => x !== null);
  return v.length ? Math.max(...v) : null;
};
export const medianSize = (op: Operation): number | undefined => {
  const v = op.runs.map((r) => r.size_bytes).filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
};
const medianPhase = (op: Operation, phase: string): number | undefined => {
  const v = op.runs.map((r) => r.phases?.[phase]).filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
};

/** Failure message of a command: its first `error:` line, else the end of its stderr. */
export function failureOf(m: Measurement): string {
  const line = m.stderr.split('\n').find((l) => l.startsWith('error:'));
  return `exit ${m.code}: ${(line ?? m.stderr.trim().split('\n').slice(-1)[0] ?? '').slice(0, 300)}`;
}

/** SPEC §9: peak RSS ≤ 128 MB for every command, at 1× and 4× the reference home. */
const MEMORY_BAR_BYTES = 128 * 1024 * 1024;
const MEMORY_BAR = '≤ 128 MB';

/** `ours / theirs ≤ bar` as a check; SKIP when either side is missing. */
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
  if (rss === null) return { name, value: 'n/a', bar: MEMORY_BAR, verdict: 'SKIP' };
  return { name, value: formatBytes(rss), bar: MEMORY_BAR, verdict: rss <= MEMORY_BAR_BYTES ? 'PASS' : 'FAIL' };
}

/** A yes/no property of the result (e.g. "GNU tar reads it alone"); SKIP when it could not be checked. */
export function factCheck(name: string, holds: boolean | undefined, value: string, bar: string): Check {
  return { name, value, bar, verdict: holds === undefined ? 'SKIP' : holds ? 'PASS' : 'FAIL' };
}

const seconds = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(2)}s` : '-');

/** "min–max" of the runs' wall times: the spread that the median hides. */
function spread(op: Operation): string {
  const w = op.runs.map((r) => r.wall_s).filter(Number.isFinite);
  if (w.length === 0) return '-';
  return `${Math.min(...w).toFixed(2)}–${Math.max(...w).toFixed(2)}`;
}

/** The median of each phase the command reported, in the order it reported them. */
function phaseSummary(op: Operation): string | undefined {
  const names = [...new Set(op.runs.flatMap((r) => Object.keys(r.phases ?? {})))];
  if (names.length === 0) return undefined;
  return names.map((k) => `${k} ${medianPhase(op, k)?.toFixed(2)}s`).join(', ');
}

export function renderSection(section: Section): string {
  const lines = [`== ${section.title}`];
  const rows = section.operations.map((op) => {
    if (op.runs.length === 0) return [op.name, '-', '-', '-', '-', op.error ?? op.note ?? ''];
    const size = medianSize(op);
    const rss = maxRss(op);
    return [
      op.name,
      seconds(medianWall(op)),
      spread(op),
      size === undefined ? '-' : formatBytes(size),
      rss === null ? '-' : formatBytes(rss),
      op.error ?? op.note ?? '',
    ];
  });
  if (rows.length) lines.push(...renderTable(['operation', 'median wall', 'min–max (s)', 'size', 'peak RSS', 'note'], rows));
  for (const op of section.operations) {
    const phases = phaseSummary(op);
    if (phases) lines.push(`  phases of ${op.name.trim()} (median): ${phases}`);
  }
  for (const t of section.tables ?? []) lines.push(...renderTable(t.header, t.rows));
  for (const c of section.checks) lines.push(`  ${c.verdict.padEnd(4)}  ${c.name.padEnd(52)} ${c.value.padStart(9)}   bar ${c.bar}`);
  for (const n of section.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

/**
 * One table of every hoziron command's peak RSS at each scale given (this run and the last
 * run of the other scales, from their JSON): the "memory stays flat" view. Undefined when
 * there is nothing to show. It holds no checks: each figure was checked in its own section.
 */
export function memoryByScale(runs: { scale: number; sections: Section[] }[]): Section | undefined {
  const byName = new Map<string, Map<number, number | null>>();
  for (const run of runs) {
    for (const op of run.sections.flatMap((s) => s.operations)) {
      if (!op.name.startsWith('hoziron') || op.error || op.runs.length === 0) continue;
      if (!byName.has(op.name)) byName.set(op.name, new Map());
      byName.get(op.name)!.set(run.scale, maxRss(op));
    }
  }
  if (byName.size === 0) return undefined;
  const scales = runs.map((r) => r.scale);
  const cell = (v: number | null | undefined): string =>
    v === undefined || v === null ? '-' : `${formatBytes(v)}${v > MEMORY_BAR_BYTES ? ' (over)' : ''}`;
  return {
    title: `peak RSS per command by scale of the reference home (bar ${MEMORY_BAR}; other scales from their last run)`,
    operations: [],
    tables: [
      {
        header: ['command', ...scales.map((s) => `${s}×`)],
        rows: [...byName].map(([name, m]) => [name, ...scales.map((s) => cell(m.get(s)))]),
      },
    ],
    checks: [],
    notes: [],
  };
}
