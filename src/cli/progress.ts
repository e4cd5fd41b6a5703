/**
 * Progress of long operations (create, verify, restore) on stderr: one line, redrawn at most
 * ten times a second, fitted to the terminal's current width by `renderProgressLine`, naming
 * the phase (snapshot, compress, write, verify, stage, swap, safety backup) so a restore
 * never sits at 100 % while its safety backup runs. Drawn only when stderr is a terminal and
 * the output is not --json; otherwise a no-op, so pipes and scripts see nothing.
 */
import { renderProgressLine, type ProgressPhase } from './progress-line.js';

export interface Progress {
  /** A new phase: its own counts, throughput and ETA start from zero. */
  phase(phase: ProgressPhase, unit?: 'bytes' | 'steps'): void;
  update(done: number, total: number): void;
  stop(): void;
}

const NONE: Progress = { phase: () => undefined, update: () => undefined, stop: () => undefined };
const REDRAW_MS = 100;

export async function startProgress(
  label: string,
  opts: { json?: boolean; stream?: NodeJS.WriteStream; phase?: ProgressPhase } = {},
): Promise<Progress> {
  const stream = opts.stream ?? process.stderr;
  if (opts.json || !stream.isTTY) return NONE;
  let phase: ProgressPhase = opts.phase ?? 'compress';
  let unit: 'bytes' | 'steps' = 'bytes';
  let since = Date.now();
  let done = 0;
  let total = 0;
  let drawnAt = 0;
  let drawn = false;
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - drawnAt < REDRAW_MS) return;
    drawnAt = now;
    drawn = true;
    // One column short of the width: a line that fills it exactly wraps on some terminals.
    const columns = Math.max(1, (stream.columns || 80) - 1);
    stream.write(`\r${renderProgressLine({ label, phase, done, total, elapsedMs: now - since, columns, unit })}\x1b[K`);
  };
  return {
    phase(next, nextUnit = 'bytes') {
      phase = next;
      unit = nextUnit;
      since = Date.now();
      done = 0;
      total = 0;
      draw(true);
    },
    update(d, t) {
      done = d;
      total = t;
      draw(false);
    },
    stop() {
      // Idempotent: a restore handed to the daemon stops the line before its own final stop.
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
