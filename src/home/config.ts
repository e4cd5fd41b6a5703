/**
 * `config.toml`: parsed with smol-toml, validated with a zod schema. A bad file is refused
 * with one line naming the file, the key, what was expected and what was found; unknown
 * keys are returned as warnings rather than silently dropped. Defaults live here only.
 * `HOZIRON_LISTEN` overrides `[server] listen` (containers: the home's config.toml says
 * loopback, the pod must listen on its own address); it is checked by the same rules and
 * refused with the same one line, naming the variable instead of the file.
 * `[backup.encryption]`: every recipient (inline or in `recipients_file`) is parsed here, so a
 * bad one is refused at load naming the key or file:line (a secret key pasted there is
 * refused without being repeated). The identity is only ever a path (`identity_file`, or
 * `HOZIRON_BACKUP_IDENTITY`, which wins); its contents are read when something is decrypted.
 */
import { readFileSync } from 'node:fs';
import { looksSecret, notARecipient, parseRecipient, parseRecipientsText } from '../crypto/keys.js';
import type { Passphrase } from '../crypto/passphrase.js';
import { isAbsolute, resolve } from 'node:path';
import { Cron } from 'croner';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { HozironError, errnoCode } from '../errors.js';
import type { HomeLayout } from './layout.js';

const DEFAULTS = {
  server: { listen: '127.0.0.1:4200', metrics_public: false },
  backup: { schedule: '0 2 * * *', retention: 7, storage_path: '', backup_on_shutdown: false },
} as const;

/** A 5-field cron expression, checked by croner; the empty string disables the schedule. */
function checkCron(expr: string): string | undefined {
  if (expr === '') return undefined;
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return `a 5-field cron expression (minute hour day month weekday), not ${fields.length} fields`;
  try {
    new Cron(expr, { paused: true });
    return undefined;
  } catch (err) {
    return `a valid cron expression (${(err as Error).message.replace(/^CronPattern: /, '')})`;
  }
}

const listenSchema = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, {
  message: 'host:port',
});

const REMOTE_DEFAULTS = {
  url: '',
  endpoint: '',
  region: 'us-east-1',
  force_path_style: false,
  retention: 30,
  require_encryption: true,
  object_lock_days: 0,
} as const;

/**
 * `[backup.remote]`: where off-host copies go. The url is `s3://bucket[/prefix]` (bucket names
 * as S3 allows them); the endpoint, when set, an http(s) URL without credentials in it.
 * Credentials never live here: the SDK's chain or the home's `.env` (remote/credentials.ts).
 */
const remoteSchema = z.object({
  url: z
    .string()
    .default(REMOTE_DEFAULTS.url)
    .refine((v) => v === '' || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/.test(v), {
      message: 's3://bucket/prefix (a bucket name of 3-63 lowercase letters, digits, dots and hyphens), or "" for no remote',
    }),
  endpoint: z
    .string()
    .default(REMOTE_DEFAULTS.endpoint)
    .refine((v) => v === '' || /^https?:\/\/[^\s/@]+(\/[^\s@]*)?$/.test(v), {
      message: 'an http(s) URL without user or password (for example http://127.0.0.1:9000), or "" for AWS',
    }),
  region: z
    .string()
    .default(REMOTE_DEFAULTS.region)
    .refine((v) => /^[a-z0-9-]+$/.test(v), { message: 'a region name such as us-east-1' }),
  force_path_style: z.boolean().default(REMOTE_DEFAULTS.force_path_style),
  retention: z.number().int().min(1).max(100_000).default(REMOTE_DEFAULTS.retention),
  require_encryption: z.boolean().default(REMOTE_DEFAULTS.require_encryption),
  object_lock_days: z.number().int().min(0).max(36_500).default(REMOTE_DEFAULTS.object_lock_days),
});

const configSchema = z.object({
  server: z
    .object({
      listen: listenSchema.default(DEFAULTS.server.listen),
      metrics_public: z.boolean().default(DEFAULTS.server.metrics_public),
    })
    .default({ ...DEFAULTS.server }),
  backup: z
    .object({
      schedule: z
        .string()
        .default(DEFAULTS.backup.schedule)
        .superRefine((v, ctx) => {
          const problem = checkCron(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      retention: z.number().int().min(1).max(10_000).default(DEFAULTS.backup.retention),
      storage_path: z.string().default(DEFAULTS.backup.storage_path),
      backup_on_shutdown: z.boolean().default(DEFAULTS.backup.backup_on_shutdown),
      encryption: z
        .object({
          recipients: z.array(z.string()).default([]),
          recipients_file: z.string().default(''),
          identity_file: z.string().default(''),
        })
        .default({ recipients: [], recipients_file: '', identity_file: '' }),
      remote: remoteSchema.default({ ...REMOTE_DEFAULTS }),
    })
    .default({
      ...DEFAULTS.backup,
      encryption: { recipients: [], recipients_file: '', identity_file: '' },
      remote: { ...REMOTE_DEFAULTS },
    }),
});

type Config = z.infer<typeof configSchema>;

export interface LoadedConfig {
  config: Config;
  /** Absolute backup storage directory (storage_path, or `<home>/backups`). */
  storageDir: string;
  /** Listen host and port: from `HOZIRON_LISTEN` when set, else from `server.listen`. */
  listen: { host: string; port: number };
  /** Where `listen` came from, for messages that tell the operator what to change. */
  listenSource: 'HOZIRON_LISTEN' | 'server.listen';
  /** Backup encryption: recipients (validated age1… strings) and where an identity would come from. */
  encryption: EncryptionConfig;
  warnings: string[];
}

interface EncryptionConfig {
  /** Every new archive is encrypted to these when there are any. */
  recipients: string[];
  /** An identity file's path (never its contents), if one is configured. */
  identityFile: string | undefined;
  /** Where `identityFile` came from, for messages. */
  identitySource: string | undefined;
  /**
   * A passphrase for one create written to a path given by hand (then its only recipient),
   * or to decrypt one archive with. Set by a command for itself, never from this file: a
   * schedule or the daemon never encrypts with a passphrase.
   */
  passphraseRecipient?: Passphrase;
  passphraseIdentity?: Passphrase;
}

/** Keys refused in `[backup.encryption]`: a passphrase is never configured (see EncryptionConfig). */
const PASSPHRASE_KEYS = ['passphrase', 'passphrase_file'];

const KNOWN_KEYS: Record<string, readonly string[]> = {
  server: Object.keys(DEFAULTS.server),
  backup: [...Object.keys(DEFAULTS.backup), 'encryption', 'remote'],
  'backup.encryption': ['recipients', 'recipients_file', 'identity_file'],
  'backup.remote': Object.keys(REMOTE_DEFAULTS),
};

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'a table';
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'number' || issue.expected === 'int'
        ? 'an integer'
        : issue.expected === 'object'
          ? 'a table'
          : `a ${issue.expected}`;
    case 'too_small':
      return `an integer of at least ${String(issue.minimum)}`;
    case 'too_big':
      return `an integer of at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.message;
    default:
      return issue.message;
  }
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = doc;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function unknownKeys(doc: Record<string, unknown>): string[] {
  const found: string[] = [];
  for (const [section, value] of Object.entries(doc)) {
    const known = KNOWN_KEYS[section];
    if (!known) {
      found.push(section);
      continue;
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (!known.includes(key)) found.push(`${section}.${key}`);
        const nested = KNOWN_KEYS[`${section}.${key}`];
        if (nested && typeof inner === 'object' && inner !== null && !Array.isArray(inner))
          for (const k of Object.keys(inner)) if (!nested.includes(k)) found.push(`${section}.${key}.${k}`);
      }
    }
  }
  return found;
}

/**
 * Parse `host:port` (IPv6 hosts in brackets). `where` names the source in the message: the
 * config key (`<file>: server.listen`) or the environment variable.
 */
function parseListen(value: string, where: string, hint: string): { host: string; port: number } {
  const checked = listenSchema.safeParse(value);
  if (!checked.success) {
    throw new HozironError('config_invalid', `${where}: expected host:port, found ${describe(value)}`, hint);
  }
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(value)!;
  const port = Number(m[2]);
  if (port > 65535) throw new HozironError('config_invalid', `${where}: expected a port of at most 65535, found ${port}`, hint);
  return { host: m[1]!, port };
}

/** Recipients from the config and its recipients file, and the identity's path (see the module header). */
function resolveEncryption(e: Config['backup']['encryption'], file: string, home: HomeLayout, env: NodeJS.ProcessEnv): EncryptionConfig {
  const recipients: string[] = [];
  e.recipients.forEach((text, i) => {
    const r = parseRecipient(text);
    const key = `backup.encryption.recipients[${i}]`;
    if (!r) throw new HozironError('config_invalid', `${file}: ${key}: ${notARecipient(text)}`, `fix ${key} in ${file}`);
    recipients.push(r.text);
  });
  if (e.recipients_file !== '') {
    const path = isAbsolute(e.recipients_file) ? e.recipients_file : resolve(home.root, e.recipients_file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new HozironError(
        'config_invalid',
        `${file}: backup.encryption.recipients_file: cannot read ${path} (${errnoCode(err) ?? (err as Error).message})`,
        `fix backup.encryption.recipients_file in ${file}`,
      );
    }
    for (const r of parseRecipientsText(text, path)) recipients.push(r.text);
  }
  if (looksSecret(e.identity_file)) {
    throw new HozironError(
      'config_invalid',
      `${file}: backup.encryption.identity_file: expected the path of an identity file, found a secret key`,
      `never put a secret key in ${file}: write it to a file (0600) and give its path`,
    );
  }
  const fromEnv = env.HOZIRON_BACKUP_IDENTITY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (looksSecret(fromEnv))
      throw new HozironError('config_invalid', 'HOZIRON_BACKUP_IDENTITY: expected the path of an identity file, found a secret key');
    return { recipients: [...new Set(recipients)], identityFile: resolve(fromEnv), identitySource: 'HOZIRON_BACKUP_IDENTITY' };
  }
  const identityFile =
    e.identity_file === '' ? undefined : isAbsolute(e.identity_file) ? e.identity_file : resolve(home.root, e.identity_file);
  return {
    recipients: [...new Set(recipients)],
    identityFile,
    identitySource: identityFile ? `${file}: backup.encryption.identity_file` : undefined,
  };
}

/**
 * Validate already-parsed TOML; `file` is used in messages only. `env` is read for
 * `HOZIRON_LISTEN` only; an empty value counts as unset.
 */
export function validateConfig(
  doc: Record<string, unknown>,
  file: string,
  home: HomeLayout,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const result = configSchema.safeParse(doc);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.map(String).join('.');
    const value = valueAt(doc, issue.path);
    // An endpoint with user:password in it holds a credential: named, never repeated.
    const found =
      key === 'backup.remote.endpoint' && typeof value === 'string' && value.includes('@')
        ? 'a URL with a user or password in it (not repeated here)'
        : describe(value);
    throw new HozironError('config_invalid', `${file}: ${key}: expected ${expectation(issue)}, found ${found}`, `fix ${key} in ${file}`);
  }
  const config = result.data;
  const storage = config.backup.storage_path;
  const storageDir = storage === '' ? home.defaultStorage : isAbsolute(storage) ? storage : resolve(home.root, storage);
  // The file's value is checked even when the variable overrides it: a bad config.toml is
  // refused the same way in a container and on the host that later reads that home.
  const fromFile = parseListen(config.server.listen, `${file}: server.listen`, `fix server.listen in ${file}`);
  const override = env.HOZIRON_LISTEN;
  const listen =
    override === undefined || override === ''
      ? fromFile
      : parseListen(override, 'HOZIRON_LISTEN', 'set HOZIRON_LISTEN to host:port (for example 0.0.0.0:4200), or unset it');
  const listenSource = override === undefined || override === '' ? 'server.listen' : 'HOZIRON_LISTEN';
  const encryptionTable = valueAt(doc, ['backup', 'encryption']);
  for (const key of PASSPHRASE_KEYS) {
    if (typeof encryptionTable === 'object' && encryptionTable !== null && key in encryptionTable) {
      throw new HozironError(
        'config_invalid',
        `${file}: backup.encryption.${key}: a passphrase is never configured: scheduled and daemon backups encrypt to recipients (age1…) only; a passphrase encrypts only a one-off archive written to a path given by hand`,
        `remove backup.encryption.${key} from ${file}`,
      );
    }
  }
  const warnings = unknownKeys(doc).map((k) => `${file}: unknown key ${k} is ignored`);
  const encryption = resolveEncryption(config.backup.encryption, file, home, env);
  return { config, storageDir, listen, listenSource, encryption, warnings };
}

/** Read and validate `config.toml` of a home. A missing file is an error: run `hoziron init`. */
export function loadConfig(home: HomeLayout, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = home.config;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new HozironError(
        'home_missing',
        `no Hoziron home at ${home.root} (${file} not found)`,
        'initialise the home first, or choose another one',
        { remedy: 'init_home' },
      );
    }
    throw new HozironError('io', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, file, home, env);
}

/** Parse and validate config text; `file` names it in messages (e.g. a config inside an archive). */
export function parseConfig(text: string, file: string, home: HomeLayout, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    const what = (err as Error).message.split('\n')[0];
    throw new HozironError('config_invalid', `${file}: not valid TOML${where}: ${what}`);
  }
  return validateConfig(doc, file, home, env);
}

/** The commented `config.toml` that `hoziron init` writes: every key with its default. */
export function renderDefaultConfig(): string {
  return `# Hoziron platform configuration.
# Every key is shown with its default. Unknown keys are warned about.

[server]
# Address the daemon listens on (loopback by default). HOZIRON_LISTEN overrides it.
listen = "${DEFAULTS.server.listen}"
# Serve GET /metrics without an API key (for a Prometheus that holds none); false needs a viewer key.
metrics_public = ${DEFAULTS.server.metrics_public}

[backup]
# 5-field cron expression (UTC) for automated backups run by the daemon; "" disables.
schedule = "${DEFAULTS.backup.schedule}"
# Keep this many backups; the oldest are pruned after each successful backup.
retention = ${DEFAULTS.backup.retention}
# Where archives are stored; "" means $HOZIRON_HOME/backups. Relative paths are
# resolved against the home.
storage_path = "${DEFAULTS.backup.storage_path}"
# Take a backup when the daemon stops gracefully (hoziron stop, SIGTERM, SIGINT).
backup_on_shutdown = ${DEFAULTS.backup.backup_on_shutdown}

[backup.encryption]
# age X25519 recipients (age1…, from \`hoziron backup keygen\` or age-keygen). Any recipient
# here or in recipients_file makes every new archive a .tar.gz.age encrypted to all of them.
recipients = []
# A file of recipients, one per line, # comments; relative to the home.
recipients_file = ""
# Only where this host must decrypt (verify, restore): the path of an identity file.
# HOZIRON_BACKUP_IDENTITY (a path) overrides it. Never put a secret key in this file.
identity_file = ""

[backup.remote]
# Off-host copies on S3-compatible object storage: s3://bucket/prefix; "" = no remote.
# Credentials come from the AWS chain (environment, ~/.aws, instance role) or this home's
# .env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): never from this file.
url = "${REMOTE_DEFAULTS.url}"
# For stores other than AWS (MinIO, Ceph RGW, R2, B2, ...): their http(s) endpoint.
endpoint = "${REMOTE_DEFAULTS.endpoint}"
region = "${REMOTE_DEFAULTS.region}"
# Address buckets as endpoint/bucket rather than bucket.endpoint (most non-AWS stores).
force_path_style = ${REMOTE_DEFAULTS.force_path_style}
# The remote keeps this many backups of each scope (the newest good full is always kept).
retention = ${REMOTE_DEFAULTS.retention}
# Refuse to upload a plaintext archive (configure [backup.encryption] recipients).
require_encryption = ${REMOTE_DEFAULTS.require_encryption}
# With a bucket that has S3 Object Lock: keep each object undeletable this many days; 0 = off.
object_lock_days = ${REMOTE_DEFAULTS.object_lock_days}
`;
}
