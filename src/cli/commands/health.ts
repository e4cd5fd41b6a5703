/** `hoziron health [--json]`: ask the running daemon `GET /v1/health`; exit 1 if it does not answer or is degraded. */
import type { Command } from 'commander';
import type { App } from '../app.js';

export function registerHealth(program: Command, app: App): void {
  program
    .command('health')
    .description('ask the daemon GET /v1/health (exit 1 if it does not answer, or is degraded)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const home = await app.runPreflights();
      const { readPidFile } = await import('../../home/run.js');
      const { fetchHealth } = await import('../../api/client.js');
      // Where the daemon says it listens; else where the config says it should.
      const address =
        readPidFile(home)?.address ??
        (() => {
          const { host, port } = app.config().listen;
          return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        })();
      const h = await fetchHealth(address);
      const reasons = h.reasons ?? [];
      if (opts.json) app.printJson({ address, ...h });
      else
        app.print([
          `${h.status}: hoziron ${h.version}, pid ${h.pid}, up ${h.uptime_seconds}s, http://${address}`,
          ...reasons.map((r) => `  ${r.code}: ${r.message}`),
        ]);
      if (h.status === 'degraded') process.exitCode = 1;
    });
}
