/** Copying and removing whole trees for the benchmark's scratch homes (GNU cp keeps modes). */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

export function copyTree(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  const r = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to} failed: ${r.stderr.trim()}`);
}
