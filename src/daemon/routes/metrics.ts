/**
 * `GET /metrics`: the Prometheus text format (see metrics.ts). It needs a viewer key unless
 * `[server] metrics_public = true`, decided per request so that a config.toml put back by a
 * live restore takes effect at once. Until prom-client is loaded (just after the daemon
 * starts listening) it answers 503 with Retry-After. Also times every request by its route
 * pattern, never its URL (which holds agent names and keys).
 */
import type { FastifyInstance } from 'fastify';
import { Authenticator } from '../auth.js';
import { busy, type DaemonContext } from '../context.js';
import type { DaemonMetrics } from '../metrics.js';

export function metricsRoutes(metrics: () => DaemonMetrics | undefined) {
  return (app: FastifyInstance, ctx: DaemonContext): void => {
    const auth = new Authenticator(ctx);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? '(no route)';
      metrics()?.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    });
    app.get('/metrics', async (request, reply) => {
      if (ctx.restoring) throw busy();
      if (!ctx.cfg.config.server.metrics_public) auth.check(request, 'viewer');
      const m = metrics();
      if (!m) throw busy();
      const text = await m.render();
      return reply.header('Content-Type', m.contentType).send(text);
    });
  };
}
