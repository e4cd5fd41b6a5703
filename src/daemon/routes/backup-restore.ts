/** `POST /v1/backup/restore` (admin): a dry run, or a live restore (see live-restore.ts). */
import { isAbsolute } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ensureLocalBackup } from '../../backup/remote-catalog.js';
import { listPendingSafety } from '../../backup/safety-point.js';
import type { BackupRestoreRequest } from '../../api/daemon.js';
import { HozironError } from '../../errors.js';
import type { BackupRunner } from '../backup-runner.js';
import type { DaemonContext } from '../context.js';
import { restoreLive } from '../live-restore.js';
import { LOCAL_KEY_ID } from '../local-credential.js';
import type { BackupScheduler } from '../scheduler.js';
import { actorOf, checksumSchema, fileSchema, idSchema } from './backup.js';

export function restoreRoutes(runner: BackupRunner, scheduler: BackupScheduler) {
  return (app: FastifyInstance, ctx: DaemonContext): void => {
    app.post<{ Body: BackupRestoreRequest }>(
      '/v1/backup/restore',
      {
        config: { role: 'admin' },
        schema: {
          body: {
            type: 'object',
            properties: {
              id: idSchema,
              file: fileSchema,
              dry_run: { type: 'boolean' },
              verify: { type: 'boolean' },
              checksum: checksumSchema,
              identity_file: fileSchema,
            },
            additionalProperties: false,
          },
        },
      },
      // A local credential (the home's owner on this host: a CLI restore) may name any archive
      // file, and an identity file to decrypt it with; nobody else may name an identity file.
      async (request) => {
        const local = request.apiKey?.id === LOCAL_KEY_ID;
        const identityFile = request.body?.identity_file;
        if (identityFile !== undefined && !local) {
          throw new HozironError('bad_request', '"identity_file" is only accepted from a CLI restore on this host');
        }
        if (identityFile !== undefined && !isAbsolute(identityFile)) {
          throw new HozironError('bad_request', '"identity_file" must be an absolute path');
        }
        // By id, not in the storage path but on the remote: fetched first, verified as it streams.
        // A restore's safety backup still being made is never on the remote: the restore waits for it.
        const id = request.body?.id;
        if (id !== undefined && !(await listPendingSafety(ctx.home, ctx.cfg)).some((r) => r.id.startsWith(id))) {
          await ensureLocalBackup(ctx.home, ctx.cfg, id, {
            actor: actorOf(request),
            onWarning: (m) => ctx.log.warn(`restore: ${m}`),
          });
        }
        return restoreLive(ctx, runner, scheduler, request.body, actorOf(request), { anyPath: local });
      },
    );
  };
}
