/**
 * The files kept beside each archive: `<archive>.sha256` (sha256sum format, so
 * `sha256sum -c` checks it) and `<archive>.json`, the summary that lets `backup list` work
 * without decompressing anything (the manifest's summary, the checksum, the kind and when
 * the archive was last verified). A summary records the archive's size and mtime; one that
 * no longer matches its archive is ignored and rebuilt. The summary may also cache the
 * outcome of retention's checksum check (`checked`), keyed by the size and mtime of the
 * bytes checked, and where a plain archive's gzip members lie (`members`, for reuse by the
 * next create). Both are written atomically, 0600.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Manifest } from '../archive/manifest.js';
import { unpackedSize } from '../archive/manifest.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { HozironError } from '../errors.js';
import type { ChecksumSource } from '../api/types.js';

const SUMMARY_VERSION = 1;

export function checksumSidecar(archive: string): string {
  return `${archive}.sha256`;
}
export function summarySidecar(archive: string): string {
  return `${archive}.json`;
}

const summarySchema = z.object({
  summary_format: z.literal(SUMMARY_VERSION),
  archive: z.object({ size: z.number().int(), mtime_ms: z.number() }),
  kind: z.enum(['regular', 'pre-restore']),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  manifest: z.object({
    format: z.number().int(),
    id: z.string(),
    created_at: z.string(),
    scope: z.enum(['full', 'agents']),
    hoziron_version: z.string(),
    host: z.string(),
    file_count: z.number().int(),
    dir_count: z.number().int(),
    unpacked_bytes: z.number().int(),
    audit_head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  }),
  last_verified_at: z.string().nullable(),
  /** How long the create took (absent in summaries written before it was recorded, or rebuilt). */
  duration_ms: z.number().int().nonnegative().optional(),
  checked: z
    .object({ size: z.number().int(), mtime_ms: z.number(), ok: z.boolean(), at: z.string(), reason: z.string().optional() })
    .optional(),
  /**
   * Where a plain archive's body members lie (member-reuse.ts), for the next create to reuse
   * unchanged ones. Untrusted like the rest of the file: a member is reused only once proven.
   */
  members: z
    .object({
      body_offset: z.number().int().nonnegative(),
      list: z.array(z.tuple([z.number().int().positive(), z.number().int().nonnegative(), z.number().int().nonnegative()])),
    })
    .optional(),
});

export type Summary = z.infer<typeof summarySchema>;
export type ManifestSummary = Summary['manifest'];

export function summarizeManifest(m: Manifest): ManifestSummary {
  return {
    format: m.format,
    id: m.id,
    created_at: m.created_at,
    scope: m.scope,
    hoziron_version: m.hoziron_version,
    host: m.host,
    file_count: m.files.length,
    dir_count: m.dirs.length,
    unpacked_bytes: unpackedSize(m),
    audit_head: m.audit_head,
  };
}

/** The summary of `archive` if it exists and parses, whether or not it is stale. */
export async function readAnySummary(archive: string): Promise<Summary | undefined> {
  try {
    const parsed = summarySchema.safeParse(JSON.parse(await fs.readFile(summarySidecar(archive), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A summary's text (e.g. read from the remote), or undefined when it is not one. */
export function parseSummary(text: string): Summary | undefined {
  try {
    const parsed = summarySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a summary still describes the file: same size and mtime. */
export function isCurrent(s: Summary, stat: { size: number; mtimeMs: number }): boolean {
  return s.archive.size === stat.size && s.archive.mtime_ms === stat.mtimeMs;
}

/**
 * Write `archive`'s summary. A summary rewritten for the same archive bytes (a verify, a
 * cached check) keeps the member index of the one it replaces, so reuse survives it.
 */
export async function writeSummary(archive: string, summary: Summary): Promise<void> {
  let written = summary;
  if (!summary.members) {
    const old = await readAnySummary(archive);
    if (old?.members && old.archive.size === summary.archive.size && old.archive.mtime_ms === summary.archive.mtime_ms)
      written = { ...summary, members: old.members };
  }
  // The member index on one line: thousands of short arrays, one number per line, would be most of the file.
  const { members, ...rest } = written;
  let text = JSON.stringify(rest, null, 2);
  if (members) text = `${text.slice(0, -2)},\n  "members": ${JSON.stringify(members)}\n}`;
  await writeFileAtomic(summarySidecar(archive), `${text}\n`, { mode: 0o600 });
}

/** `<hex>  <basename>\n`, exactly what `sha256sum` prints. */
export async function writeChecksum(archive: string, hex: string): Promise<void> {
  await writeFileAtomic(checksumSidecar(archive), `${hex}  ${basename(archive)}\n`, { mode: 0o600 });
}

/** The hex digest recorded in `<archive>.sha256` for this archive's name, if any. */
export async function readChecksum(archive: string): Promise<string | undefined> {
  try {
    const text = await fs.readFile(checksumSidecar(archive), 'utf8');
    const m = /^([0-9a-f]{64}) [ *](.+)$/m.exec(text);
    return m && m[2] === basename(archive) ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

/** Sidecars whose archive is gone (a crash between unlinks, or an archive deleted by hand). */
export async function removeOrphanSidecars(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  const present = new Set(names);
  for (const name of names) {
    const m = /^(.+\.tar\.gz(?:\.age)?)\.(sha256|json)$/.exec(name);
    if (m && !present.has(m[1]!)) await fs.rm(join(dir, name), { force: true });
  }
}

/**
 * Where the checksum an archive is checked against comes from: its `.sha256` sidecar, a
 * value the operator gave (e.g. published beside a download), or nowhere. A hash this
 * program computed itself (a summary written by `list`) is never a recorded checksum:
 * comparing the file with its own hash proves nothing.
 */
export type { ChecksumSource };

export interface ExpectedChecksum {
  source: ChecksumSource;
  /** Lower-case hex; undefined when `source` is `none`. */
  sha256?: string;
}

/** An operator's checksum, `sha256:<hex>` or bare hex, as lower-case hex. */
function parseChecksum(text: string): string {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!m) throw new HozironError('usage', `checksum ${JSON.stringify(text)} is not sha256:<64 hex digits>`);
  return m[1]!.toLowerCase();
}

/** The checksum to compare `archive` with: the operator's if given, else its sidecar's, else none. */
export async function expectedChecksum(archive: string, operator?: string): Promise<ExpectedChecksum> {
  if (operator !== undefined) return { source: 'operator', sha256: parseChecksum(operator) };
  const recorded = await readChecksum(archive);
  return recorded === undefined ? { source: 'none' } : { source: 'sidecar', sha256: recorded };
}
