/**
 * `GET /v1/auth/whoami` (viewer): the key a request was made with (id, name, role; never the
 * token). The console asks it once after sign-in, to offer only the actions the role allows;
 * the routes themselves still check the role on every request.
 */
import type { FastifyInstance } from 'fastify';
import type { WhoAmIResponse } from '../../api/daemon.js';
import { HozironError } from '../../errors.js';

export function registerWhoamiRoutes(app: FastifyInstance): void {
  app.get('/v1/auth/whoami', { config: { role: 'viewer' } }, async (request): Promise<WhoAmIResponse> => {
    const key = request.apiKey;
    if (!key) throw new HozironError('unauthorized', 'missing bearer token');
    return { id: key.id, name: key.name, role: key.role };
  });
}
