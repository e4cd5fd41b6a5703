/**
 * How often `[backup] schedule` runs, for "is the newest backup too old?" (the daemon's
 * health and the doctor both call a backup stale past two periods).
 */
import { Cron } from 'croner';

/** The schedule's period: the gap between its next two runs after `from` (an estimate for irregular ones). */
export function schedulePeriodMs(expr: string, from = new Date()): number | undefined {
  if (expr === '') return undefined;
  const [a, b] = new Cron(expr, { timezone: 'UTC', paused: true }).nextRuns(2, from);
  return a && b ? b.getTime() - a.getTime() : undefined;
}

export function describeAge(ms: number): string {
  const h = ms / 3_600_000;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}
