/**
 * `POST /v1/backup/verify`: the checks of a restore without the restore — unpack into a
 * temporary directory in the storage path with `stageArchive` (checksum, every entry against
 * the manifest, database integrity, the audit chain), then delete it. Only archives in the
 * storage path (by id or file) are read.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BackupVerifyRequest } from '../../api/daemon.js';
import type { BackupRecord } from '../../api/types.js';
import { findBackup } from '../../backup/catalog.js';
import { stageArchive } from '../../backup/stage.js';
import type { DaemonContext } from '../context.js';
import { resolveSource } from '../archive-source.js';

export interface VerifyReport {
  ok: true;
  record: BackupRecord;
  checksum_verified: boolean;
  file_count: number;
  duration_ms: number;
}

export async function verifyFromApi(ctx: DaemonContext, req: BackupVerifyRequest, _actor: string): Promise<VerifyReport> {
  const started = Date.now();
  const path = await resolveSource(ctx.cfg, req ?? {});
  const record = await findBackup(ctx.cfg, path);
  const work = await fs.mkdtemp(join(ctx.cfg.storageDir, '.hoziron-verify-'));
  try {
    const { manifest } = await stageArchive(path, work, { verifyChecksum: true });
    return { ok: true, record, checksum_verified: true, file_count: manifest.files.length, duration_ms: Date.now() - started };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
