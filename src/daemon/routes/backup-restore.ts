/** `POST /v1/backup/restore` (admin): a dry run, or a live restore (see live-restore.ts). */
import type { FastifyInstance } from 'fastify';
import type { BackupRestoreRequest } from '../../api/daemon.js';
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
            },
            additionalProperties: false,
          },
        },
      },
      // A local credential (the home's owner on this host: a CLI restore) may name any archive file.
      async (request) =>
        restoreLive(ctx, runner, scheduler, request.body, actorOf(request), { anyPath: request.apiKey?.id === LOCAL_KEY_ID }),
    );
  };
}
