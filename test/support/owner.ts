/**
 * Test support for owner records (docs/operations.md#lock-files): records as another process, container or boot
 * would write them, and heartbeats made old by moving a file's mtime back.
 */
import { spawnSync } from 'node:child_process';
import { utimesSync } from 'node:fs';
import { makeOwner, type OwnerRecord } from '../../src/fsutil/owner.js';

/** A pid that was just used by a process that has exited. */
export function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** A record as this process would write it, with `over` replacing fields. */
export function ownerRecord(over: Partial<OwnerRecord> = {}): OwnerRecord {
  return { ...makeOwner(), ...over };
}

/** A record from another PID namespace (another container or pod on the same volume). */
export function otherNamespaceOwner(over: Partial<OwnerRecord> = {}): OwnerRecord {
  return ownerRecord({ pid_ns: 'pid:[4000000001]', pid: 1, start_time: '42', ...over });
}

/** Make the heartbeat of `path` (its mtime) `ms` old. */
export function ageFile(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}
