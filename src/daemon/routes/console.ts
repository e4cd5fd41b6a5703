/**
 * The operator's console (README.md#the-console): `GET /` is the page, `GET /assets/{file}`
 * its scripts and styles, all without authentication (they hold no data; the page signs in
 * with an API key and calls the API like any client). Every answer carries the strict
 * Content-Security-Policy of `ConsoleAssets`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_CSP, ConsoleAssets, type ConsoleAsset } from '../../console/assets.js';
import { HozironError } from '../../errors.js';

function send(reply: FastifyReply, asset: ConsoleAsset | undefined, what: string): FastifyReply {
  if (!asset) {
    throw new HozironError('not_found', `the console has no ${what}`, 'build it with `npm run build` (the console is dist/web/)');
  }
  return reply
    .header('Content-Type', asset.contentType)
    .header('Content-Length', String(asset.size))
    .header('Content-Security-Policy', CONSOLE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .header('Cache-Control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .send(asset.body);
}

export function registerConsoleRoutes(app: FastifyInstance): void {
  const assets = new ConsoleAssets();
  app.get('/', async (_request, reply) => send(reply, await assets.open('', 'index.html'), 'page (dist/web/index.html is missing)'));
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) =>
    send(reply, await assets.open('assets', request.params.name), `file ${JSON.stringify(request.params.name)}`),
  );
}
