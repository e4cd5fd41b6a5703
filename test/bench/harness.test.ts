import { describe, expect, it } from 'vitest';
import { median, percentile, runMeasured } from '../../bench/measure.js';
import { memoryCheck, ratioCheck } from '../../bench/report.js';
import { phasesOf } from '../../bench/sections/restore.js';

describe('benchmark harness', () => {
  it('reads the peak RSS of a child process tree, not of the benchmark itself', async () => {
    // A shell that starts node holding 80 MB: the tree's peak must include the grandchild.
    const m = await runMeasured('sh', ['-c', `${process.execPath} -e "const b = Buffer.alloc(80e6, 1); setTimeout(() => {}, 200)"`]);
    expect(m.code).toBe(0);
    expect(m.peak_rss_bytes).toBeGreaterThan(80e6);
    expect(m.peak_rss_bytes).toBeLessThan(400e6);
    expect(m.wall_s).toBeGreaterThan(0.2);
  });

  it('reports the exit code and stderr of a failed command', async () => {
    const m = await runMeasured('sh', ['-c', 'echo "error: nope" >&2; exit 3']);
    expect(m.code).toBe(3);
    expect(m.stderr).toContain('error: nope');
  });

  it('takes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });

  it('marks ratios against the bars, and skips when a side is missing', () => {
    expect(ratioCheck('x', 9, 10, 1.0, '≤ 1.00×').verdict).toBe('PASS');
    expect(ratioCheck('x', 11, 10, 1.0, '≤ 1.00×').verdict).toBe('FAIL');
    expect(ratioCheck('x', 11.9, 10, 1.2, '≤ 1.20×').verdict).toBe('PASS');
    expect(ratioCheck('x', undefined, 10, 1.0, '≤ 1.00×').verdict).toBe('SKIP');
    expect(memoryCheck({ name: 'op', runs: [{ wall_s: 1, peak_rss_bytes: 250 * 1024 * 1024 }] }).verdict).toBe('FAIL');
    expect(memoryCheck({ name: 'op', runs: [{ wall_s: 1, peak_rss_bytes: 90 * 1024 * 1024 }] }).verdict).toBe('PASS');
  });

  it('finds phase timings in a restore result, in seconds', () => {
    expect(phasesOf({ timings: { safety_backup_ms: 1500, swap_ms: 20 } })).toEqual({ safety_backup: 1.5, swap: 0.02 });
    expect(phasesOf({ phases: { safety_backup_s: 2 } })).toEqual({ safety_backup: 2 });
    expect(phasesOf({ id: 'x' })).toEqual({});
    expect(phasesOf(undefined)).toEqual({});
  });
});
