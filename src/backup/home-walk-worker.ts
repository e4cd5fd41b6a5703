/**
 * Worker-thread entry of a restore's walk of the current home (restore.ts `startHomeWalk`):
 * the sizes of the files in the archive's scope, for the plan of changes (restore-plan.ts
 * `scanScope`), and, for a confirmed restore, the check that the home can be archived as it
 * is (the collection a backup makes, collect.ts), since its safety backup is made from exactly
 * these items after the swap. Off the main thread, these walks of tens of thousands of files
 * run while the archive is being staged.
 */
import { HomeLayout, type Scope } from '../home/layout.js';
import { collectScope } from './collect.js';
import { scanScope } from './restore-plan.js';
import { serveWorker } from './worker-runner.js';

export interface HomeWalkJob {
  root: string;
  scope: Scope;
  /** Also collect the scope as a backup would, refusing what a backup refuses. */
  collect: boolean;
  excluded: string[];
}

void serveWorker<HomeWalkJob, [string, number][]>(async (job) => {
  if (job.collect) await collectScope(new HomeLayout(job.root), job.scope, job.excluded);
  return scanScope(job.root, job.scope);
});
