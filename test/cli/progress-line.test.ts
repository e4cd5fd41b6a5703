import { describe, expect, it } from 'vitest';
import { renderProgressLine, type ProgressFrame } from '../../src/cli/progress-line.js';

const frame = (over: Partial<ProgressFrame> = {}): ProgressFrame => ({
  label: 'Backing up',
  phase: 'compress',
  done: 123_456_789,
  total: 456_789_012,
  elapsedMs: 12_000,
  columns: 100,
  ...over,
});

describe('renderProgressLine', () => {
  it('shows the phase, a bar, percent, amounts, throughput and ETA on a wide terminal', () => {
    const line = renderProgressLine(frame());
    expect(line).toMatch(/^Backing up: compress \[#+-+\] 27% 117\.7MB\/435\.6MB 9\.8MB\/s ETA 32s$/);
  });

  it('never exceeds the width of the terminal, from 200 columns down to 1', () => {
    for (let columns = 1; columns <= 200; columns++) {
      for (const f of [frame({ columns }), frame({ columns, phase: 'safety backup', done: 0, total: 0, elapsedMs: 0 })]) {
        const line = renderProgressLine(f);
        expect(line.length, `${columns} columns: ${line}`).toBeLessThanOrEqual(columns);
        expect(line).not.toMatch(/\n/);
      }
    }
  });

  it('keeps phase, percent and ETA whole on a 50-column terminal (the numbers used to be cut off)', () => {
    const line = renderProgressLine(frame({ columns: 50 }));
    expect(line.length).toBeLessThanOrEqual(50);
    expect(line).toMatch(/compress .*27% .*ETA 32s$/);
  });

  it('drops the bar and the throughput before the ETA on a very narrow terminal', () => {
    const line = renderProgressLine(frame({ columns: 24 }));
    expect(line).toBe('compress 27% ETA 32s');
  });

  it('counts steps without byte units (the swap of a restore)', () => {
    expect(renderProgressLine(frame({ phase: 'swap', done: 3, total: 12, unit: 'steps', elapsedMs: 300, columns: 60 }))).toMatch(
      /^Backing up: swap \[#+-+\] 25% 3\/12 ETA 1s$/,
    );
  });

  it('says the ETA is unknown until anything is done (a safety backup just started)', () => {
    expect(renderProgressLine(frame({ phase: 'safety backup', done: 0, total: 0, elapsedMs: 0, columns: 80 }))).toMatch(
      /safety backup \[-+\] 0% .*ETA --$/,
    );
  });
});
