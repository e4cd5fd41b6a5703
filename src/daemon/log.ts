/**
 * The daemon's log: one line per event, `<time> <level> <message>`, on stdout (the terminal
 * with --foreground, `run/daemon.log` when started in the background). Callers pass only
 * method, route, status, duration and key ids: never tokens, bodies or values.
 */
import { printableLine } from '../printable.js';

export class DaemonLog {
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  private write(level: string, message: string): void {
    // One line per event, whatever a message quotes (paths from an archive, a client's names).
    this.out.write(`${new Date().toISOString()} ${level} ${printableLine(message)}\n`);
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string): void {
    this.write('error', message);
  }
}
