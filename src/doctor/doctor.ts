/**
 * `hoziron doctor`: a list of offline checks, each reporting ok / warn / fail. A check is a
 * name and a function of the home and its (possibly unloadable) config; it returns one or
 * more findings, and a check that throws is reported as a failure rather than ending the
 * run, so one broken piece never hides the state of the others. Doctor only reads the home
 * (its one write, the storage probe, is a temporary file it removes at once).
 * To add a check (for example "the daemon answers"), write a `DoctorCheck` and append it to
 * `BUILTIN_CHECKS` in checks.ts, or call `registerCheck` before `runDoctor`.
 */
import type { Remedy } from '../errors.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';

type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  status: CheckStatus;
  message: string;
  /** What to do about it, phrased by the CLI (src/cli/hints.ts); the message stays neutral. */
  remedy?: Remedy;
}

interface CheckResult extends Finding {
  check: string;
}

export interface DoctorContext {
  home: HomeLayout;
  /** The loaded config; undefined when it failed to load (the config check says why). */
  cfg: LoadedConfig | undefined;
  /** Why the config failed to load, if it did. */
  configError: unknown;
}

export interface DoctorCheck {
  name: string;
  run: (ctx: DoctorContext) => Promise<Finding | Finding[]> | Finding | Finding[];
}

export interface DoctorReport {
  home: string;
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}

export async function runChecks(checks: readonly DoctorCheck[], ctx: DoctorContext): Promise<DoctorReport> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    try {
      const found = await check.run(ctx);
      for (const f of Array.isArray(found) ? found : [found]) results.push({ check: check.name, ...f });
    } catch (err) {
      results.push({ check: check.name, status: 'fail', message: err instanceof Error ? err.message : String(err) });
    }
  }
  const summary: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const r of results) summary[r.status]++;
  return { home: ctx.home.root, ok: summary.fail === 0, summary, checks: results };
}
