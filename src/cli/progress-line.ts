/**
 * One line of progress as a pure function of what is known: the phase, how far it is, how
 * long it has run and how wide the terminal is. The line never exceeds `columns`: as the
 * terminal narrows, the bar shrinks first, then the label, the bar, the throughput and the
 * totals go, in that order, so the numbers that matter (phase, percent, ETA) stay longest.
 */
import { formatBytes } from './format.js';

/** What a long operation is doing now (create, verify, restore). */
export type ProgressPhase = 'snapshot' | 'compress' | 'write' | 'verify' | 'stage' | 'swap' | 'safety backup';

export interface ProgressFrame {
  label: string;
  phase: ProgressPhase;
  done: number;
  total: number;
  /** Time spent in this phase so far. */
  elapsedMs: number;
  columns: number;
  /** What `done` and `total` count: bytes (shown with units and throughput) or steps. */
  unit?: 'bytes' | 'steps';
}

const MIN_BAR = 10;
const MAX_BAR = 30;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const r = Math.max(0, Math.round(s));
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

function bar(width: number, fraction: number): string {
  const filled = Math.round(width * fraction);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function renderProgressLine(f: ProgressFrame): string {
  const columns = Math.max(1, Math.floor(f.columns));
  const total = Math.max(f.total, f.done, 0);
  const fraction = total > 0 ? Math.min(1, Math.max(0, f.done / total)) : 0;
  const percent = `${Math.floor(fraction * 100)}%`;
  const bytes = (f.unit ?? 'bytes') === 'bytes';
  const seconds = f.elapsedMs / 1000;
  const rate = seconds > 0 ? f.done / seconds : 0;
  const eta = `ETA ${rate > 0 ? formatSeconds((total - f.done) / rate) : '--'}`;
  const amount = bytes ? `${formatBytes(f.done)}/${formatBytes(total)}` : `${f.done}/${total}`;
  const speed = bytes && rate > 0 ? `${formatBytes(Math.round(rate))}/s` : '';

  const head = (label: boolean) => (label ? [`${f.label}:`, f.phase] : [f.phase]);
  const tail = (withAmount: boolean, withSpeed: boolean) => [
    percent,
    ...(withAmount ? [amount] : []),
    ...(withSpeed && speed ? [speed] : []),
    eta,
  ];

  // From the fullest line to the barest; the first that fits wins.
  for (const label of [true, false]) {
    const text = [...head(label), ...tail(true, true)].join(' ');
    const room = columns - text.length - 3; // a space and the brackets
    if (room >= MIN_BAR) return [...head(label), bar(Math.min(MAX_BAR, room), fraction), ...tail(true, true)].join(' ');
  }
  for (const [withAmount, withSpeed] of [
    [true, true],
    [true, false],
    [false, false],
  ] as const) {
    const line = [...head(false), ...tail(withAmount, withSpeed)].join(' ');
    if (line.length <= columns) return line;
  }
  return `${f.phase} ${percent}`.slice(0, columns);
}
