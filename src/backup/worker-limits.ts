/**
 * Resource limits for the backup engine's worker threads. Each worker is a V8 isolate with
 * its own young generation, which V8 lets grow to tens of MiB before collecting; the
 * workers' garbage is short-lived rows and buffers, so a small young generation costs
 * almost no time and keeps a restore (main thread plus up to four workers) within its
 * memory budget.
 */
import type { ResourceLimits } from 'node:worker_threads';

export const WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 6 };
