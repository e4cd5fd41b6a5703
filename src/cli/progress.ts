/**
 * A progress bar for long operations (create, verify, restore): drawn on stderr only when
 * stderr is a terminal and the output is not --json; otherwise a no-op, so pipes and
 * scripts see nothing. cli-progress is loaded lazily to keep `hoziron --version` fast.
 */
import { formatBytes } from './format.js';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const NONE: Progress = { update: () => undefined, stop: () => undefined };

export async function startProgress(label: string, opts: { json?: boolean; stream?: NodeJS.WriteStream } = {}): Promise<Progress> {
  const stream = opts.stream ?? process.stderr;
  if (opts.json || !stream.isTTY) return NONE;
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% {doneText}/{totalText} {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      const payload = { doneText: formatBytes(done), totalText: formatBytes(total) };
      if (!started) {
        bar.start(Math.max(total, 1), done, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(total, 1));
        bar.update(done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
