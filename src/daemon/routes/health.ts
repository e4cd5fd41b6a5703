/** `GET /v1/health`: no authentication; answers even while a restore runs (status "restoring"). */
import type { FastifyInstance } from 'fastify';
import type { HealthResponse } from '../../api/daemon.js';
import { HOZIRON_VERSION } from '../../version.js';
import type { DaemonContext } from '../context.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: DaemonContext): void {
  app.get('/v1/health', async (): Promise<HealthResponse> => ({
    status: ctx.restoring ? 'restoring' : 'ok',
    version: HOZIRON_VERSION,
    uptime_seconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
    pid: process.pid,
    started_at: ctx.startedAt.toISOString(),
  }));
}
