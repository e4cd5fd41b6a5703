/** What every benchmark section is given: where things are and how many runs to make. */
import type { ReferenceTools } from '../tools.js';

export interface BenchContext {
  /** Working copy of the reference home (the cached one is never touched). */
  home: string;
  /** Scratch directory of this run (tar archives, extraction targets, other copies). */
  work: string;
  /** The cached, pristine reference home (source for further copies). */
  pristine: string;
  runs: number;
  scale: number;
  seed: number;
  tools: ReferenceTools;
  log: (line: string) => void;
}

/**
 * The order in which the contenders of run `run` go: the list rotated by one per run, so
 * none always runs first (on a colder cache) or last (after the others' write-back).
 */
export function rotation<T>(run: number, contenders: readonly T[]): T[] {
  const k = contenders.length ? run % contenders.length : 0;
  return [...contenders.slice(k), ...contenders.slice(0, k)];
}
