/**
 * `GET /v1/health`: no authentication; answers even while a restore runs (status "restoring").
 * `degraded` with its reasons when backups fail or are at risk (health-monitor.ts); HTTP 200 in
 * every state, since the daemon serves in all of them.
 */
import type { FastifyInstance } from 'fastify';
import type { HealthResponse } from '../../api/daemon.js';
import { HOZIRON_VERSION } from '../../version.js';
import type { DaemonContext } from '../context.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: DaemonContext): void {
  app.get('/v1/health', async (): Promise<HealthResponse> => {
    const reasons = ctx.restoring ? [] : await ctx.healthReasons();
    return {
      status: ctx.restoring ? 'restoring' : reasons.length > 0 ? 'degraded' : 'ok',
      reasons,
      version: HOZIRON_VERSION,
      uptime_seconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
      pid: process.pid,
      started_at: ctx.startedAt.toISOString(),
    };
  });
}
