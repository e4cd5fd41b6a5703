/**
 * The backup routes (README.md#api). Each calls one function of the backup core (the same the
 * CLI calls) and returns its result; roles: viewer reads, operator creates and verifies,
 * admin deletes and restores. Ids are validated by pattern so that an id can never be taken
 * for a path; a `file` must lie in the storage path (`archiveInStorage`).
 */
import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { BackupCreateRequest, BackupShowResponse, BackupStatusResponse, BackupVerifyRequest } from '../../api/daemon.js';
import type { BackupRecord } from '../../api/types.js';
import { findCatalogEntry, listBackups } from '../../backup/catalog.js';
import { deleteBackup } from '../../backup/retention.js';
import { deleteRemoteBackup, listRemoteBackups, remoteConfigured, withLocations } from '../../backup/remote-catalog.js';
import { remoteStatus } from '../../backup/remote-state.js';
import type { BackupRunner } from '../backup-runner.js';
import type { DaemonContext } from '../context.js';
import type { BackupScheduler } from '../scheduler.js';
import type { VerifyReport } from '../../api/types.js';
import { verifyBackup } from '../../backup/verify.js';
import { resolveSource } from '../archive-source.js';
import { checkStorage } from '../../backup/storage-check.js';

/** A backup id (a UUID) or a unique prefix of at least 8 hex digits. */
export const idSchema = { type: 'string', pattern: '^[0-9a-fA-F][0-9a-fA-F-]{7,35}$' } as const;
export const fileSchema = { type: 'string', minLength: 1, maxLength: 4096 } as const;
export const checksumSchema = { type: 'string', pattern: '^(sha256:)?[0-9a-fA-F]{64}$' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: idSchema } } as const;

export function actorOf(request: { apiKey?: { id: string } }): string {
  return `api:${request.apiKey?.id ?? 'unknown'}`;
}

export function backupRoutes(runner: BackupRunner, scheduler: BackupScheduler) {
  return (app: FastifyInstance, ctx: DaemonContext): void => {
    app.post<{ Body: BackupCreateRequest }>(
      '/v1/backup/create',
      {
        config: { role: 'operator' },
        schema: {
          body: {
            type: 'object',
            properties: { scope: { type: 'string', enum: ['full', 'agents'] } },
            additionalProperties: false,
          },
        },
      },
      async (request): Promise<BackupRecord> => runner.run('api', request.body?.scope ?? 'full', actorOf(request)),
    );

    // With [backup.remote]: where each backup is (`location`); `?remote=only` lists the remote alone.
    app.get<{ Querystring: { remote?: string } }>(
      '/v1/backup/list',
      {
        config: { role: 'viewer' },
        schema: { querystring: { type: 'object', properties: { remote: { type: 'string', enum: ['only'] } } } },
      },
      async (request): Promise<BackupRecord[]> => {
        const warn = (m: string) => ctx.log.warn(`list: ${m}`);
        if (request.query.remote === 'only') return listRemoteBackups(ctx.home, ctx.cfg, warn);
        return withLocations(ctx.home, ctx.cfg, await listBackups(ctx.cfg), warn);
      },
    );

    // Never a 500 for storage the operator can fix: what is wrong is in `storage.error`.
    app.get('/v1/backup/status', { config: { role: 'viewer' } }, async (): Promise<BackupStatusResponse> => {
      const dir = ctx.cfg.storageDir;
      const check = await checkStorage(dir);
      let error = check.ok ? null : check.error;
      let records: BackupRecord[] | null = null;
      try {
        records = await listBackups(ctx.cfg);
      } catch (err) {
        error ??= `cannot list ${dir}: ${(err as Error).message}`;
      }
      let free: number | null = null;
      try {
        const st = await fs.statfs(dir);
        free = Number(st.bavail) * Number(st.bsize);
      } catch {
        /* missing, or not reachable: reported in error */
      }
      return {
        schedule: scheduler.expression,
        next_run: scheduler.nextRun()?.toISOString() ?? null,
        running: runner.running,
        last_success: runner.state.last_success,
        last_attempt: runner.state.last_attempt,
        last_scheduled: runner.state.last_scheduled,
        remote: remoteConfigured(ctx.cfg) ? remoteStatus(ctx.home, ctx.cfg.config.backup.remote.url) : null,
        storage: {
          path: dir,
          ok: error === null,
          error,
          archives: records?.length ?? null,
          used_bytes: records ? records.reduce((n, r) => n + r.size_bytes, 0) : null,
          free_bytes: free,
        },
      };
    });

    app.get<{ Params: { id: string } }>(
      '/v1/backup/:id',
      { config: { role: 'viewer' }, schema: { params: idParams } },
      async (request): Promise<BackupShowResponse> => {
        const { record, summary } = await findCatalogEntry(ctx.cfg, request.params.id);
        return { ...record, manifest: summary.manifest };
      },
    );

    app.delete<{ Params: { id: string }; Querystring: { remote?: string } }>(
      '/v1/backup/:id',
      {
        config: { role: 'admin' },
        schema: { params: idParams, querystring: { type: 'object', properties: { remote: { type: 'string', enum: ['true'] } } } },
      },
      async (request): Promise<{ deleted: BackupRecord }> => {
        const how = { actor: actorOf(request), onWarning: (m: string) => ctx.log.warn(`delete: ${m}`) };
        return {
          deleted:
            request.query.remote === 'true'
              ? await deleteRemoteBackup(ctx.home, ctx.cfg, request.params.id, how)
              : await deleteBackup(ctx.home, ctx.cfg, request.params.id, how),
        };
      },
    );

    app.post<{ Body: BackupVerifyRequest }>(
      '/v1/backup/verify',
      {
        config: { role: 'operator' },
        schema: {
          body: {
            type: 'object',
            properties: { id: idSchema, file: fileSchema, checksum: checksumSchema },
            additionalProperties: false,
          },
        },
      },
      async (request): Promise<VerifyReport> =>
        verifyBackup(ctx.home, ctx.cfg, await resolveSource(ctx.cfg, request.body ?? {}), {
          checksum: request.body?.checksum,
          onWarning: (m) => ctx.log.warn(`verify: ${m}`),
        }),
    );
  };
}
