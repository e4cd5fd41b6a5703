/**
 * Keeping the daemon's main thread first in line for the CPU while a backup runs. The main
 * thread answers every request and commits every acknowledged write; a backup's work runs
 * on other threads of the same process (its worker thread, the snapshot worker, deflate
 * and file I/O on libuv's thread pool). With those at the same priority, on a machine with
 * few cores the main thread waits for a core behind them after every fsync, and write
 * latency rises several-fold (measured by `npm run bench`, bench/sections/daemon.ts).
 *
 * So while a backup runs, every thread of this process but the main one is made "nicer"
 * (Linux nice values are per thread: setpriority on a thread id changes that thread only,
 * and threads inherit their creator's value). New threads are caught by polling
 * /proc/self/task. Nice values are only ever raised, never lowered: an unprivileged daemon
 * could not lower them again, and background threads at a lower priority are what this
 * daemon wants anyway. On a system without /proc this does nothing.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The nice value of the daemon's background threads (the main thread keeps its own). */
const BACKGROUND_NICE = 10;
/** How often new threads (a worker a backup starts) are looked for. */
const POLL_MS = 50;

function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return []; // not Linux, or /proc not mounted: nothing to do
  }
}

/** Lower the priority of every thread but the main one, once. */
function lowerBackgroundThreads(): void {
  for (const tid of threadIds()) {
    if (tid === process.pid) continue; // the main thread's id is the process id
    try {
      if (getPriority(tid) < BACKGROUND_NICE) setPriority(tid, BACKGROUND_NICE);
    } catch {
      // the thread ended meanwhile, or the system refused: it keeps its priority
    }
  }
}

/**
 * Lower the background threads now and keep lowering new ones until the returned function
 * is called (when the backup is over).
 */
export function backgroundPriorityWhile(): () => void {
  lowerBackgroundThreads();
  const timer = setInterval(lowerBackgroundThreads, POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
