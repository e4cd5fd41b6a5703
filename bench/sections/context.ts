/** What every benchmark section is given: where things are and how many runs to make. */
export interface BenchContext {
  /** Working copy of the reference home (the cached one is never touched). */
  home: string;
  /** Scratch directory of this run (tar archives, extraction targets, other copies). */
  work: string;
  /** The cached, pristine reference home (source for further copies). */
  pristine: string;
  runs: number;
  log: (line: string) => void;
}

/** Alternate which side goes first, so neither always runs on a colder cache. */
export function interleave(run: number): 'ours-first' | 'theirs-first' {
  return run % 2 === 0 ? 'ours-first' : 'theirs-first';
}
