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
import { decodeManifestLine, displayName } from './entry-name.js';
import { DirList, FileList, type ManifestDir, type ManifestFile } from './manifest-list.js';
import { ManifestParser, ManifestSyntaxError, ManifestUtf8Error, type Json } from './manifest-parse.js';

export const MANIFEST_NAME = 'MANIFEST.json';
export const FORMAT_VERSION = 1;
/**
 * A manifest larger than this is refused from its tar header, before a byte of it is read.
 * A file's line is about 130 bytes plus its path, so 48 MiB lists ~250,000 files with
 * 70-byte paths (the reference home's ~22,000 entries take 3 MiB). It bounds the time a
 * hostile manifest can cost; memory is bounded by the streaming parse (manifest-parse.ts).
 */
export const MAX_MANIFEST_BYTES = 48 * 1024 * 1024;
/**
 * Bounds on what a manifest may list, so that the lists (manifest-list.ts: a name's bytes
 * plus about 60 bytes per file) stay within a command's memory budget (docs/format.md) for
 * any manifest under `MAX_MANIFEST_BYTES`, however its bytes are spent: at most this many
 * files and folders together (13 times the reference home's ~22,000 entries)...
 */
const MAX_MANIFEST_ENTRIES = 300_000;
/** ...and at most this many bytes of names together (300,000 names of 80 bytes). */
const MAX_MANIFEST_NAME_BYTES = 24 * 1024 * 1024;

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

/** The members other than `files` and `dirs` (read element by element, see manifest-parse.ts). */
const headerSchema = z.object({
  format: z.number().int(),
  id: z.string().uuid(),
  created_at: z.string().datetime(),
  scope: z.enum(['full', 'agents']),
  hoziron_version: z.string().min(1).max(256),
  host: z.string().max(4096),
  audit_head: z.object({ seq: z.number().int().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/) }).nullable(),
});

export type { ManifestDir, ManifestFile };
export { DirList, FileList };

/** A manifest as read: the lists are compact (manifest-list.ts); `JSON.stringify` writes the document. */
export interface Manifest extends z.infer<typeof headerSchema> {
  files: FileList;
  dirs: DirList;
}

/** The document as JSON has it (what a writer or a test builds). */
export interface ManifestDocument extends z.infer<typeof headerSchema> {
  files: ManifestFile[];
  dirs: ManifestDir[];
}

/** Total bytes of the files a manifest lists (the unpacked size). */
export function unpackedSize(m: Pick<Manifest, 'files'>): number {
  return m.files.totalSize();
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function isRelPath(p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096 || p.startsWith('/') || p.includes('\0')) return false;
  return !p.split('/').some((c) => c === '..' || c === '.' || c === '');
}

const isMode = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o7777;

/** `fileSchema`'s rules by hand; undefined when they fail. */
function quickFile(raw: Json): ManifestFile | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { path, size, mode, sha256 } = raw;
  if (!isRelPath(path) || !isMode(mode) || typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
  return { path, size, mode, sha256 };
}

function quickDir(raw: Json): ManifestDir | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { path, mode } = raw;
  return isRelPath(path) && isMode(mode) ? { path, mode } : undefined;
}

function schemaError(source: string, where: string, err: z.ZodError): HozironError {
  const issue = err.issues[0]!;
  const at = [where, ...issue.path.map(String)].filter(Boolean).join('.');
  return new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME}: ${at || 'document'}: ${issue.message}`);
}

function checkFormat(format: unknown, source: string): void {
  if (typeof format === 'number' && format > FORMAT_VERSION) {
    throw new HozironError(
      'unsupported_version',
      `${source}: archive format ${format} is newer than this hoziron understands (${FORMAT_VERSION})`,
      'upgrade hoziron to restore this archive',
    );
  }
}

/**
 * Parses MANIFEST.json as it streams in (`feed`, then `end`). Refuses a newer format with a
 * hint, and duplicate paths. `source` names the archive in messages.
 */
export class ManifestReader {
  private readonly parser: ManifestParser;

  constructor(private readonly source: string) {
    // The common case is checked by hand (no garbage per entry: a manifest may list 200,000
    // files); anything it does not accept goes through the schema for the exact message.
    const element =
      <T>(schema: z.ZodType<T>, name: string, fast: (raw: Json) => T | undefined) =>
      (raw: Json, index: number): T => {
        // Non-UTF-8 names arrive as `path_b64` (entry-name.ts); from here on every path is a name string.
        const badName = decodeManifestLine(raw, `${name}.${index}`);
        if (badName) throw new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME}: ${badName}`);
        const ok = fast(raw);
        if (ok !== undefined) return ok;
        const r = schema.safeParse(raw);
        if (!r.success) throw schemaError(source, `${name}.${index}`, r.error);
        return r.data;
      };
    this.parser = new ManifestParser({
      file: element(fileSchema, 'files', quickFile),
      dir: element(dirSchema, 'dirs', quickDir),
      duplicate: (path) => {
        throw new HozironError('archive_invalid', `${source}: ${MANIFEST_NAME} lists ${displayName(path)} twice`);
      },
      member: (key, value) => {
        if (key === 'format') checkFormat(value, source);
      },
      added: (files, dirs) => {
        if (files.length + dirs.length > MAX_MANIFEST_ENTRIES) {
          throw new HozironError(
            'archive_invalid',
            `${source}: ${MANIFEST_NAME} lists more than ${MAX_MANIFEST_ENTRIES} files and folders, more than this hoziron reads`,
          );
        }
        if (files.namesSize + dirs.namesSize > MAX_MANIFEST_NAME_BYTES) {
          throw new HozironError(
            'archive_invalid',
            `${source}: the names ${MANIFEST_NAME} lists take more than ${MAX_MANIFEST_NAME_BYTES} bytes together, more than this hoziron reads`,
          );
        }
      },
    });
  }

  private syntax<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ManifestUtf8Error) {
        throw new HozironError('archive_invalid', `${this.source}: ${MANIFEST_NAME} at offset ${err.offset} is not valid UTF-8`);
      }
      if (err instanceof ManifestSyntaxError) {
        throw new HozironError('archive_invalid', `${this.source}: ${MANIFEST_NAME} is not valid JSON (${err.message})`);
      }
      throw err;
    }
  }

  feed(chunk: Buffer): void {
    this.syntax(() => this.parser.feed(chunk));
  }

  end(): Manifest {
    const parsed = this.syntax(() => this.parser.end());
    const members = Object.fromEntries(parsed.members);
    delete members.dirs;
    const result = headerSchema.safeParse(members);
    if (!result.success) throw schemaError(this.source, '', result.error);
    if (!parsed.sawFiles) throw new HozironError('archive_invalid', `${this.source}: ${MANIFEST_NAME}: files: Required`);
    const m = result.data;
    if (m.format !== FORMAT_VERSION) {
      throw new HozironError('unsupported_version', `${this.source}: unknown archive format ${m.format}`);
    }
    return { ...m, files: parsed.files, dirs: parsed.dirs };
  }
}

/** Parse and validate a whole manifest text (see `ManifestReader`). */
export function parseManifest(text: string | Buffer, source: string): Manifest {
  const reader = new ManifestReader(source);
  reader.feed(typeof text === 'string' ? Buffer.from(text) : text);
  return reader.end();
}
