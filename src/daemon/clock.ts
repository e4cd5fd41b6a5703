/**
 * The daemon's notion of "now", for the schedule. Production reads the system clock. A test
 * sets `HOZIRON_TEST_NOW` (an RFC 3339 instant) to start the daemon's clock at that instant,
 * after which it runs on in real time: a real daemon then meets a schedule slot seconds after
 * start instead of waiting for a real cron minute.
 */
import { HozironError } from '../errors.js';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const start = env.HOZIRON_TEST_NOW;
  if (start === undefined || start === '') return systemClock;
  const at = Date.parse(start);
  if (Number.isNaN(at)) throw new HozironError('usage', `HOZIRON_TEST_NOW: expected an RFC 3339 time, found ${JSON.stringify(start)}`);
  const offset = at - Date.now();
  return { now: () => Date.now() + offset };
}
