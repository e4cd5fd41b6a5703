/**
 * The HTTP server: Fastify with a 1 MiB body limit, Ajv-validated schemas on every route,
 * one error handler (`http-errors.ts`) for every error including Fastify's own, bearer auth
 * by route role, a 503 gate while a live restore runs, and an access log that records method,
 * route pattern, status, duration and key id only (never URLs with values, tokens or bodies).
 * Fastify is only imported here, and this module only from the daemon's entry, so CLI
 * commands that do not serve stay fast.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { HozironError } from '../errors.js';
import { Authenticator } from './auth.js';
import { RETRY_AFTER_SECONDS, busy, type DaemonContext } from './context.js';
import { errorBody, statusFor, toHozironError } from './http-errors.js';
import { jsonNestingDepth } from './json-depth.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerKvRoutes } from './routes/kv.js';
import { registerWhoamiRoutes } from './routes/whoami.js';

const BODY_LIMIT_BYTES = 1024 * 1024;
/** Deepest nesting of arrays and objects a JSON body may have (documented in the README). */
export const MAX_JSON_DEPTH = 64;
/**
 * Longest raw (percent-encoded) path parameter the router accepts. Route schemas hold the
 * documented limits (agent 128, key 512 characters); this only has to let those through,
 * so that a long name gets the project's 400 rather than the router's bare 414.
 */
const MAX_PARAM_LENGTH = 8 * 1024;

export type RouteRegistrar = (app: FastifyInstance, ctx: DaemonContext) => void;

export function buildServer(ctx: DaemonContext, extraRoutes: RouteRegistrar[] = []): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Reject unknown body fields instead of silently dropping them; never coerce types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });
  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    const body = typeof raw === 'string' ? raw : raw.toString('utf8');
    if (jsonNestingDepth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      done(new HozironError('bad_request', `request body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    void parseJson(request, body, done);
  });
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
  registerWhoamiRoutes(app);
  registerConsoleRoutes(app);
  for (const register of extraRoutes) register(app, ctx);
  return app;
}
