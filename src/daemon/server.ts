/**
 * The HTTP server: Fastify with a 1 MiB body limit, Ajv-validated schemas on every route,
 * one error handler (`http-errors.ts`) for every error including Fastify's own, bearer auth
 * by route role, a 503 gate while a live restore runs, and an access log that records method,
 * route pattern, status, duration and key id only (never URLs with values, tokens or bodies).
 * Fastify is only imported here, and this module only from the daemon's entry, so CLI
 * commands that do not serve stay fast.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Authenticator } from './auth.js';
import { RETRY_AFTER_SECONDS, busy, type DaemonContext } from './context.js';
import { errorBody, statusFor, toHozironError } from './http-errors.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerKvRoutes } from './routes/kv.js';

const BODY_LIMIT_BYTES = 1024 * 1024;

export type RouteRegistrar = (app: FastifyInstance, ctx: DaemonContext) => void;

export function buildServer(ctx: DaemonContext, extraRoutes: RouteRegistrar[] = []): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Reject unknown body fields instead of silently dropping them; never coerce types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  const auth = new Authenticator(ctx);

  app.addHook('onRequest', async (request) => {
    (request as { startNs?: bigint }).startNs = process.hrtime.bigint();
    const role = request.routeOptions.config.role;
    if (role === undefined) return;
    if (ctx.restoring) throw busy();
    auth.check(request, role);
  });

  app.addHook('onResponse', async (request, reply) => {
    const start = (request as { startNs?: bigint }).startNs ?? process.hrtime.bigint();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const route = request.routeOptions.url ?? '(no route)';
    ctx.log.info(`${request.method} ${route} ${reply.statusCode} ${ms.toFixed(1)}ms key=${request.apiKey?.id ?? '-'}`);
  });

  app.setErrorHandler(async (err, request, reply) => {
    const e = toHozironError(err);
    const status = statusFor(e.code);
    if (status >= 500) {
      const cause = e.code === 'internal' && e.cause instanceof Error ? `: ${e.cause.stack ?? e.cause.message}` : '';
      ctx.log.error(`${request.method} ${request.routeOptions.url ?? '(no route)'}: ${e.code}: ${e.message}${cause}`);
    }
    if (e.code === 'busy') void reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
    return reply.status(status).send(errorBody(e));
  });

  app.setNotFoundHandler(async (request, reply) => {
    return reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  registerHealthRoutes(app, ctx);
  registerKvRoutes(app, ctx);
  for (const register of extraRoutes) register(app, ctx);
  return app;
}
