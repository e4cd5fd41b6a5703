/**
 * How the benchmark runs the product: the real `bin/hoziron` of this checkout, under
 * measurement, with no inherited HOZIRON_* settings (as an operator's shell would be),
 * and how it finds out whether a command exists yet on this build.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { runMeasured, type Measurement, type RunOptions } from './measure.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(REPO_ROOT, 'bin', 'hoziron');

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HOZIRON_')) delete env[k];
  return env;
}

export function hoziron(args: string[], opts: RunOptions = {}): Promise<Measurement> {
  // The executable itself, as an operator runs it (its #! line carries the node flags).
  return runMeasured(BIN, args, { env: cleanEnv(), ...opts });
}

/** Run `hoziron <args>` unmeasured (setup steps); throws with its error line on failure. */
export function hozironSync(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: cleanEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const line = r.stderr.split('\n').find((l) => l.startsWith('error:')) ?? r.stderr.trim();
    throw new Error(`hoziron ${args.join(' ')} failed (exit ${r.status}): ${line}`);
  }
  return r.stdout;
}

/** Whether `hoziron <words...>` is a command of this build (its --help answers). */
export function hasCommand(...words: string[]): boolean {
  const r = spawnSync(process.execPath, [BIN, ...words, '--help'], { env: cleanEnv(), encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(`hoziron ${words.join(' ')}`);
}

/** Parse a command's --json output; undefined if it is not JSON. */
export function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
