/**
 * Routes for the remote ([backup.remote]): push (operator) and pull (operator). Listing with
 * locations and deleting a remote copy are options of the list and delete routes (backup.ts).
 * Both run the same core functions as `backup push` and `backup pull`, under the backup lock.
 */
import type { FastifyInstance } from 'fastify';
import type { BackupPullRequest, BackupPushRequest } from '../../api/daemon.js';
import type { BackupRecord, PushResult } from '../../api/types.js';
import { HozironError } from '../../errors.js';
import { pushBackups } from '../../backup/offsite.js';
import { pullBackup } from '../../backup/remote-catalog.js';
import type { DaemonContext } from '../context.js';
import { actorOf, idSchema } from './backup.js';

const fileName = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/]+$' } as const;

export function backupRemoteRoutes() {
  return (app: FastifyInstance, ctx: DaemonContext): void => {
    app.post<{ Body: BackupPushRequest }>(
      '/v1/backup/push',
      {
        config: { role: 'operator' },
        schema: {
          body: {
            type: 'object',
            properties: { id: { anyOf: [idSchema, fileName] }, all: { type: 'boolean', const: true } },
            additionalProperties: false,
          },
        },
      },
      async (request): Promise<PushResult> => {
        const body = request.body ?? {};
        if ((body.id === undefined) === (body.all === undefined))
          throw new HozironError('bad_request', 'give exactly one of "id" or "all": true');
        return pushBackups(ctx.home, ctx.cfg, body.id === undefined ? { all: true } : { idOrFile: body.id }, {
          actor: actorOf(request),
          onWarning: (m) => ctx.log.warn(`push: ${m}`),
        });
      },
    );

    app.post<{ Body: BackupPullRequest }>(
      '/v1/backup/pull',
      {
        config: { role: 'operator' },
        schema: {
          body: {
            type: 'object',
            required: ['id'],
            properties: { id: { anyOf: [idSchema, fileName] } },
            additionalProperties: false,
          },
        },
      },
      async (request): Promise<BackupRecord> =>
        pullBackup(ctx.home, ctx.cfg, request.body.id, { actor: actorOf(request), onWarning: (m) => ctx.log.warn(`pull: ${m}`) }),
    );
  };
}
