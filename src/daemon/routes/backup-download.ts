/**
 * `GET /v1/backup/{id}/download` (operator): the archive itself, streamed from the storage
 * path with back-pressure (never read into memory), as an attachment named after its file.
 * Only archives the catalog knows by id are served, so no path from the request reaches the
 * file system.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { findCatalogEntry } from '../../backup/catalog.js';
import { HozironError, errnoCode } from '../../errors.js';
import type { DaemonContext } from '../context.js';
import { idSchema } from './backup.js';

/** A file name safe inside a quoted header value (ours are `hoziron-<scope>-<time>.tar.gz`). */
function attachmentName(path: string): string {
  return basename(path).replace(/[^A-Za-z0-9._-]/g, '_');
}

export function registerBackupDownloadRoutes(app: FastifyInstance, ctx: DaemonContext): void {
  app.get<{ Params: { id: string } }>(
    '/v1/backup/:id/download',
    { config: { role: 'operator' }, schema: { params: { type: 'object', required: ['id'], properties: { id: idSchema } } } },
    async (request, reply) => {
      const { record } = await findCatalogEntry(ctx.cfg, request.params.id);
      let size: number;
      try {
        size = (await fs.stat(record.path)).size;
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') throw new HozironError('not_found', `backup ${record.id} is gone from the storage path`);
        throw err;
      }
      return reply
        .header('Content-Type', 'application/gzip')
        .header('Content-Length', String(size))
        .header('Content-Disposition', `attachment; filename="${attachmentName(record.path)}"`)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Cache-Control', 'no-store')
        .send(createReadStream(record.path, { highWaterMark: 1024 * 1024 }));
    },
  );
}
