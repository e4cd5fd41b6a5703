/**
 * The built-in doctor checks, in the order they are reported: the config, the layout, each
 * database's integrity and schema version, the audit chain, permissions of the secret files
 * and the storage directory, that the storage directory is writable, and free disk space.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode } from '../errors.js';
import { checkStorage } from '../backup/storage-check.js';
import { DATA_DIRS, type HomeLayout } from '../home/layout.js';
import { AUDIT_SPEC, AuditLog } from '../stores/audit.js';
import { KEYS_SPEC } from '../stores/keys.js';
import { MEMORY_SPEC } from '../stores/memory.js';
import { integrityCheck, openForCheck, schemaVersion, type StoreSpec } from '../stores/sqlite.js';
import { DAEMON_CHECKS } from './daemon-checks.js';
import { runChecks, type DoctorCheck, type DoctorContext, type DoctorReport, type Finding } from './doctor.js';
import { locksCheck } from './locks.js';

/**
 * Free space under which doctor warns, per filesystem (home and storage). 1 GiB: enough for
 * SQLite to keep writing and for several backups of a typical home; a full-size reference
 * home (~470 MB) needs roughly its own size again for a backup and twice for a restore.
 * HOZIRON_DOCTOR_MIN_FREE_BYTES overrides it.
 */
const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;

const ok = (message: string): Finding => ({ status: 'ok', message });
const warn = (message: string): Finding => ({ status: 'warn', message });
const fail = (message: string): Finding => ({ status: 'fail', message });

async function statOrUndefined(path: string) {
  try {
    return await fs.stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

const configCheck: DoctorCheck = {
  name: 'config',
  run: ({ home, cfg, configError }) => {
    if (!cfg) return fail(configError instanceof Error ? configError.message : String(configError));
    const findings = cfg.warnings.map(warn);
    return findings.length > 0 ? findings : ok(`${home.config} is valid`);
  },
};

const layoutCheck: DoctorCheck = {
  name: 'layout',
  run: async ({ home }) => {
    const missing: string[] = [];
    for (const rel of [home.env, ...DATA_DIRS.map((d) => home.dataSubdir(d)), home.runDir]) {
      if (!(await statOrUndefined(rel))) missing.push(rel);
    }
    return missing.length === 0 ? ok('all folders and .env present') : missing.map((p) => warn(`${p} is missing`));
  },
};

function databaseCheck(path: (h: HomeLayout) => string, spec: StoreSpec): DoctorCheck {
  return {
    name: spec.name,
    run: async ({ home }) => {
      const file = path(home);
      if (!(await statOrUndefined(file))) return fail(`${file} is missing`);
      const problems = integrityCheck(file);
      if (problems.length > 0) return fail(`integrity_check: ${problems.slice(0, 3).join('; ')}`);
      const db = openForCheck(file);
      let version: number;
      try {
        version = schemaVersion(db);
      } finally {
        db.close();
      }
      const known = spec.migrations.length;
      if (version > known) return fail(`schema version ${version} is newer than this hoziron understands (${known}); upgrade hoziron`);
      if (version < known) return warn(`integrity ok; schema version ${version} will be migrated to ${known} on next use`);
      return ok(`integrity ok, schema version ${version}`);
    },
  };
}

const auditChainCheck: DoctorCheck = {
  name: 'audit chain',
  run: async ({ home }) => {
    if (!(await statOrUndefined(home.auditDb))) return fail(`${home.auditDb} is missing`);
    const report = AuditLog.verifyFile(home.auditDb);
    return report.ok
      ? ok(`${report.count} events verify, head seq ${report.head!.seq}`)
      : fail(`chain broken at seq ${report.first_bad_seq}: ${report.reason}`);
  },
};

function privateModeCheck(
  name: string,
  path: (ctx: DoctorContext) => string | undefined,
  wanted: number,
  missing: (message: string) => Finding,
): DoctorCheck {
  return {
    name,
    run: async (ctx) => {
      const p = path(ctx);
      if (p === undefined) return warn('not checked: the config did not load');
      const st = await statOrUndefined(p);
      const want = wanted.toString(8).padStart(4, '0');
      if (!st) return missing(`${p} is missing (want mode ${want})`);
      const mode = st.mode & 0o777;
      const shown = mode.toString(8).padStart(4, '0');
      // Stricter than wanted is fine; any group or other access is not.
      if (mode & 0o077) return fail(`${p} is mode ${shown}; want ${want} (chmod ${want.slice(1)} ${p})`);
      return ok(`${p} is mode ${shown}`);
    },
  };
}

/** The home directory itself: 0700, since it holds secrets; wider is a warning that init fixes. */
const homeModeCheck: DoctorCheck = {
  name: 'home mode',
  run: async ({ home }) => {
    const st = await statOrUndefined(home.root);
    if (!st) return fail(`${home.root} is missing`);
    const shown = (st.mode & 0o777).toString(8).padStart(4, '0');
    if (st.mode & 0o077) {
      return { status: 'warn', message: `${home.root} is mode ${shown}; want 0700`, remedy: 'tighten_home' };
    }
    return ok(`${home.root} is mode ${shown}`);
  },
};

const storageWritableCheck: DoctorCheck = {
  name: 'storage writable',
  run: async ({ cfg }) => {
    if (!cfg) return warn('not checked: the config did not load');
    const dir = cfg.storageDir;
    const st = await statOrUndefined(dir);
    if (!st) {
      if (cfg.config.backup.storage_path !== '') {
        return fail(`${dir} ([backup] storage_path) does not exist; is it mounted? Backups refuse to run until it does`);
      }
      let parent = dirname(dir);
      while (!(await statOrUndefined(parent)) && dirname(parent) !== parent) parent = dirname(parent);
      try {
        await fs.access(parent, fsc.W_OK);
        return warn(`${dir} does not exist yet; it is created (0700) by the first backup`);
      } catch {
        return fail(`${dir} does not exist and ${parent} is not writable`);
      }
    }
    // A real write, not access(): it also catches read-only mounts and a full inode table.
    const check = await checkStorage(dir);
    return check.ok ? ok(`${dir} is writable`) : fail(check.error);
  },
};

function formatGiB(n: number): string {
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

const diskSpaceCheck: DoctorCheck = {
  name: 'disk space',
  run: async ({ home, cfg }) => {
    const env = Number(process.env.HOZIRON_DOCTOR_MIN_FREE_BYTES);
    const min = Number.isFinite(env) && env >= 0 && process.env.HOZIRON_DOCTOR_MIN_FREE_BYTES ? env : DEFAULT_MIN_FREE_BYTES;
    const places = [home.root];
    if (cfg) places.push(cfg.storageDir);
    const findings: Finding[] = [];
    const seen = new Set<string>();
    for (let place of places) {
      while (!(await statOrUndefined(place)) && dirname(place) !== place) place = dirname(place);
      // One finding per filesystem: the home and the storage directory often share one.
      const device = String((await fs.stat(place)).dev);
      if (seen.has(device)) continue;
      seen.add(device);
      const fsStat = await fs.statfs(place);
      const free = fsStat.bavail * fsStat.bsize;
      findings.push(
        free < min
          ? warn(`${formatGiB(free)} free on the filesystem of ${place} (under ${formatGiB(min)})`)
          : ok(`${formatGiB(free)} free on the filesystem of ${place}`),
      );
    }
    return findings;
  },
};

const BUILTIN_CHECKS: DoctorCheck[] = [
  configCheck,
  layoutCheck,
  databaseCheck((h) => h.keysDb, KEYS_SPEC),
  databaseCheck((h) => h.auditDb, AUDIT_SPEC),
  databaseCheck((h) => h.memoryDb, MEMORY_SPEC),
  auditChainCheck,
  homeModeCheck,
  privateModeCheck('.env mode', ({ home }) => home.env, 0o600, fail),
  privateModeCheck('keys.db mode', ({ home }) => home.keysDb, 0o600, fail),
  privateModeCheck(
    'storage mode',
    ({ cfg }) => cfg?.storageDir,
    0o700,
    (m) => warn(`${m}; the first backup creates it`),
  ),
  storageWritableCheck,
  diskSpaceCheck,
  locksCheck,
  ...DAEMON_CHECKS,
];

/** Run the built-in checks, then any registered ones. */
export function runDoctor(ctx: DoctorContext): Promise<DoctorReport> {
  return runChecks(BUILTIN_CHECKS, ctx);
}
