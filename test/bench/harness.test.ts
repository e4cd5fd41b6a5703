import { describe, expect, it } from 'vitest';
import { median, percentile, runMeasured } from '../../bench/measure.js';
import { factCheck, memoryByScale, memoryCheck, phasesOf, ratioCheck } from '../../bench/report.js';
import { rotation } from '../../bench/sections/context.js';
import { resticSnapshotId } from '../../bench/tools.js';

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
    expect(ratioCheck('x', 4.4, 10, 0.45, '≤ 0.45×').verdict).toBe('PASS');
    expect(ratioCheck('x', 4.6, 10, 0.45, '≤ 0.45×').verdict).toBe('FAIL');
    expect(ratioCheck('x', 1, 0, 1.0, '≤ 1.00×').verdict).toBe('SKIP');
    expect(memoryCheck({ name: 'op', runs: [{ wall_s: 1, peak_rss_bytes: 129 * 1024 * 1024 }] }).verdict).toBe('FAIL');
    expect(memoryCheck({ name: 'op', runs: [{ wall_s: 1, peak_rss_bytes: 128 * 1024 * 1024 }] }).verdict).toBe('PASS');
    expect(memoryCheck({ name: 'op', runs: [], error: 'not in this build' }).verdict).toBe('SKIP');
    expect(factCheck('x', true, 'yes', 'yes').verdict).toBe('PASS');
    expect(factCheck('x', false, 'no', 'yes').verdict).toBe('FAIL');
    expect(factCheck('x', undefined, 'no', 'yes').verdict).toBe('SKIP');
  });

  it('rotates the order of the contenders from run to run, so none is always first', () => {
    expect(rotation(0, ['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(rotation(1, ['a', 'b', 'c'])).toEqual(['b', 'c', 'a']);
    expect(rotation(4, ['a', 'b', 'c'])).toEqual(['b', 'c', 'a']);
    expect(rotation(3, [])).toEqual([]);
  });

  it("puts each command's peak RSS at every scale in one table, without checking twice", () => {
    const op = (rss: number) => ({ name: 'hoziron backup create', runs: [{ wall_s: 1, peak_rss_bytes: rss }] });
    const section = (rss: number) => ({
      title: 't',
      operations: [op(rss), { name: 'tar -czf', runs: [{ wall_s: 1, peak_rss_bytes: 1 }] }],
      checks: [],
      notes: [],
    });
    const m = memoryByScale([
      { scale: 1, sections: [section(90 * 1024 * 1024)] },
      { scale: 4, sections: [section(200 * 1024 * 1024)] },
    ]);
    expect(m?.checks).toEqual([]);
    expect(m?.tables?.[0]?.header).toEqual(['command', '1×', '4×']);
    expect(m?.tables?.[0]?.rows).toHaveLength(1);
    expect(m?.tables?.[0]?.rows[0]?.[2]).toContain('(over)');
    expect(memoryByScale([{ scale: 1, sections: [] }])).toBeUndefined();
  });

  it("finds restic's snapshot id in its --json summary line", () => {
    const out = '{"message_type":"status","percent_done":1}\n{"message_type":"summary","snapshot_id":"abc123"}\n';
    expect(resticSnapshotId(out)).toBe('abc123');
    expect(resticSnapshotId('not json')).toBeUndefined();
  });

  it('finds phase timings in a create or restore result, in seconds', () => {
    expect(phasesOf({ timings: { safety_backup_ms: 1500, swap_ms: 20 } })).toEqual({ safety_backup: 1.5, swap: 0.02 });
    expect(phasesOf({ phases: { safety_backup_s: 2 } })).toEqual({ safety_backup: 2 });
    expect(phasesOf({ id: 'x' })).toEqual({});
    expect(phasesOf(undefined)).toEqual({});
  });
});
