/**
 * Process liveness on this host. `kill(pid, 0)` answers whether a pid is in use from this
 * process's view; EPERM means it exists but belongs to someone else. Callers that must not be
 * fooled by pid reuse or other PID namespaces use the owner record (`owner.ts`) instead.
 */
import { errnoCode } from '../errors.js';

/** True when a process with this pid exists (this process included). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}
