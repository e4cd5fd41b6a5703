/**
 * MANIFEST.json, the first entry of every archive (format version 1, docs/format.md#manifest). It lists
 * every regular file with its size, mode and SHA-256, every directory with its mode (so
 * empty folders survive a round trip), and the audit head at the time of the backup.
 * `parseManifest` is the single gate through which an archive's claims enter the program.
 * A name that is not UTF-8 is written as `path_b64` and read back into its internal form
 * (see entry-name.ts), so the rest of the program sees only `path`.
 */
import { z } from 'zod';
import { HozironError } from '../errors.js';
import { decodeManifestNames, displayName } from './entry-name.js';

export const MANIFEST_NAME = 'MANIFEST.json';
export const FORMAT_VERSION = 1;
/** A manifest larger than this is refused before parsing (about 100 bytes per file). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const relPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((c) => c === '..' || c === '.' || c === '') && !p.includes('\0'), {
    message: 'a relative path without empty, "." or ".." components',
  });

const fileSchema = z.object({
  path: relPath,
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  mode: z.number().int().min(0).max(0o7777),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const dirSchema = z.object({
  path: relPath,
  mode: z.number().int().min(0).max(0o7777),
});

const manifestSchema = z.object({
  format: z.number().int(),
  id: z.string().uuid(),
  created_at: z.string().datetime(),
  scope: z.enum(['full', 'agents']),
  hoziron_version: z.string().min(1),
  host: z.string(),
  files: z.array(fileSchema),
  dirs: z.array(dirSchema).default([]),
  audit_head: z.object({ seq: z.number().int().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/) }).nullable(),
});

export type ManifestFile = z.infer<typeof fileSchema>;
export type ManifestDir = z.infer<typeof dirSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** Total bytes of the files a manifest lists (the unpacked size). */
export function unpackedSize(m: Pick<Manifest, 'files'>): number {
  return m.files.reduce((sum, f) => sum + f.size, 0);
}

/**
 * Parse and validate manifest text. Refuses a newer format with a hint, and duplicate
 * paths. `source` names the archive in messages.
 */
export function parseManifest(text: string, source: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME} is not valid JSON`);
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (typeof format === 'number' && format > FORMAT_VERSION) {
    throw new HozironError(
      'unsupported_version',
      `${source}: archive format ${format} is newer than this hoziron understands (${FORMAT_VERSION})`,
      'upgrade hoziron to restore this archive',
    );
  }
  // Non-UTF-8 names arrive as `path_b64` (entry-name.ts); from here on every path is a name string.
  const badName = decodeManifestNames(raw);
  if (badName) throw new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME}: ${badName}`);
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME}: ${issue.path.join('.') || 'document'}: ${issue.message}`);
  }
  const m = result.data;
  if (m.format !== FORMAT_VERSION) {
    throw new HozironError('unsupported_version', `${source}: unknown archive format ${m.format}`);
  }
  const seen = new Set<string>();
  for (const p of [...m.files.map((f) => f.path), ...m.dirs.map((d) => d.path)]) {
    if (seen.has(p)) throw new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME} lists ${displayName(p)} twice`);
    seen.add(p);
  }
  return m;
}
