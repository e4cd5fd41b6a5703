/**
 * Retention's check of an archive: does it still match the checksum recorded when it was
 * made (its `.sha256` sidecar)? An archive copied in without one has its gzip and tar
 * structure read through against its manifest instead. A passing `backup verify` of the
 * same bytes counts too. The outcome is cached in the summary sidecar keyed by the size and
 * mtime of the bytes checked, so each archive is read once in its life, not on every prune;
 * a truncated or rewritten archive has another size or mtime and is checked again.
 *
 * Crash safety: only the summary sidecar is written (atomically), and only when asked.
 */
import { promises as fs } from 'node:fs';
import { readArchive, type EntrySink } from '../archive/reader.js';
import { HozironError } from '../errors.js';
import { sha256File } from './catalog.js';
import { isCurrent, readAnySummary, readChecksum, writeSummary } from './sidecars.js';

export interface ArchiveCheck {
  ok: boolean;
  /** Why it fails. */
  reason?: string;
}

const discard: EntrySink = {
  directory: () => undefined,
  openFile: () => undefined,
  data: () => undefined,
  closeFile: () => undefined,
};

/** The cached outcome for the archive's current bytes, if any (never reads the archive). */
export async function cachedCheck(path: string): Promise<ArchiveCheck | undefined> {
  const stat = await fs.stat(path).catch(() => undefined);
  if (!stat) return undefined;
  const summary = await readAnySummary(path);
  const c = summary?.checked;
  if (c && c.size === stat.size && c.mtime_ms === stat.mtimeMs) return { ok: c.ok, reason: c.reason };
  if (summary && isCurrent(summary, stat) && summary.last_verified_at) return { ok: true };
  return undefined;
}

async function computeCheck(path: string): Promise<ArchiveCheck> {
  const recorded = await readChecksum(path);
  try {
    if (recorded !== undefined) {
      const actual = await sha256File(path);
      return actual === recorded ? { ok: true } : { ok: false, reason: 'its SHA-256 does not match its .sha256 sidecar' };
    }
    await readArchive(path, discard);
    return { ok: true };
  } catch (err) {
    if (err instanceof HozironError) return { ok: false, reason: err.message };
    return { ok: false, reason: `cannot read it: ${(err as Error).message}` };
  }
}

/**
 * Check `path` (see the module header), using and, when `persist`, filling the cache.
 * `trusted` records a pass without reading: for the archive a create has just written and
 * hashed as it wrote it.
 */
export async function checkArchive(path: string, opts: { persist: boolean; trusted?: boolean }): Promise<ArchiveCheck> {
  const cached = await cachedCheck(path);
  if (cached) return cached;
  const before = await fs.stat(path).catch(() => undefined);
  if (!before) return { ok: false, reason: 'it is gone' };
  const result = opts.trusted ? { ok: true } : await computeCheck(path);
  if (opts.persist) {
    const summary = await readAnySummary(path);
    const after = await fs.stat(path).catch(() => undefined);
    // Cache only what was checked: the same bytes before and after the read.
    if (summary && after && after.size === before.size && after.mtimeMs === before.mtimeMs) {
      const checked = { size: before.size, mtime_ms: before.mtimeMs, ok: result.ok, at: new Date().toISOString(), reason: result.reason };
      await writeSummary(path, { ...summary, checked }).catch(() => undefined);
    }
  }
  return result;
}
