/**
 * The layout of a Hoziron home (README.md#the-home; scopes: docs/format.md#scopes). This is the only module that knows where things
 * live: every other module asks a `HomeLayout` for a path instead of joining strings.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** The data folders under `data/`, in the order the README lists them. */
export const DATA_DIRS = ['agents', 'memory', 'workflows', 'schedules', 'competencies', 'skills', 'integrations'] as const;

/** Top-level files of the home, home-relative. */
export const HOME_FILES = {
  config: 'config.toml',
  env: '.env',
  keys: 'keys.db',
  audit: 'audit.db',
  memory: 'data/hoziron.db',
} as const;

/** Backup scopes and what each holds, home-relative (directories end with '/'). */
export type Scope = 'full' | 'agents';
export const SCOPE_ITEMS: Record<Scope, readonly string[]> = {
  full: [HOME_FILES.config, HOME_FILES.env, HOME_FILES.keys, HOME_FILES.audit, HOME_FILES.memory, ...DATA_DIRS.map((d) => `data/${d}/`)],
  agents: ['data/agents/', 'data/memory/', HOME_FILES.memory],
};

/**
 * What an archive of each scope must hold to leave a home that works: a full restore replaces
 * the config and every database, an agents restore the memory database.
 */
export const REQUIRED_ITEMS: Record<Scope, readonly string[]> = {
  full: [HOME_FILES.config, HOME_FILES.keys, HOME_FILES.audit, HOME_FILES.memory],
  agents: [HOME_FILES.memory],
};

/** Home-relative paths of the SQLite databases. */
export const DATABASES = [HOME_FILES.keys, HOME_FILES.audit, HOME_FILES.memory] as const;

/**
 * Resolve the home from `--home`, then `HOZIRON_HOME`, then `~/.hoziron`. An empty
 * `HOZIRON_HOME=` counts as unset: it would otherwise mean the current directory.
 */
export function resolveHomeDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? (env.HOZIRON_HOME || undefined) ?? join(homedir(), '.hoziron');
  return isAbsolute(chosen) ? chosen : resolve(chosen);
}

/** Suffix of a work area's cleaner file (`HomeLayout.restoreCleanerFile`). */
export const CLEANER_SUFFIX = '.cleaner';

export class HomeLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Absolute path of a home-relative path. */
  path(rel: string): string {
    return join(this.root, rel);
  }

  get config(): string {
    return this.path(HOME_FILES.config);
  }
  get env(): string {
    return this.path(HOME_FILES.env);
  }
  get keysDb(): string {
    return this.path(HOME_FILES.keys);
  }
  get auditDb(): string {
    return this.path(HOME_FILES.audit);
  }
  get memoryDb(): string {
    return this.path(HOME_FILES.memory);
  }
  get dataDir(): string {
    return this.path('data');
  }
  dataSubdir(name: (typeof DATA_DIRS)[number]): string {
    return join(this.dataDir, name);
  }
  /** Default backup storage; `[backup] storage_path` overrides it (see config). */
  get defaultStorage(): string {
    return this.path('backups');
  }
  /** Runtime files of the daemon. Never archived. */
  get runDir(): string {
    return this.path('run');
  }
  get pidFile(): string {
    return join(this.runDir, 'hoziron.pid');
  }
  get daemonLock(): string {
    return join(this.runDir, 'daemon.lock');
  }
  get daemonLog(): string {
    return join(this.runDir, 'daemon.log');
  }
  /** The daemon's record of its backups (last attempt, last success, last schedule slot). */
  get backupState(): string {
    return join(this.runDir, 'backup-state.json');
  }
  /** Off-host copies: last upload attempt, failures, pending uploads (backup/remote-state.ts). */
  get remoteState(): string {
    return join(this.runDir, 'remote-state.json');
  }
  /** A one-shot local credential (daemon/local-credential.ts), named by its random id. */
  localCredential(id: string): string {
    return join(this.runDir, `local-${id}.credential`);
  }
  /** Restore staging area and journal live inside the home, on the same filesystem. */
  get restoreDir(): string {
    return this.path('.restore');
  }
  get restoreJournal(): string {
    return join(this.restoreDir, 'journal.json');
  }
  /** Work area of one restore (or dry run): `stage/`, `old/` and its `owner` pid file. */
  restoreWorkDir(id: string): string {
    return join(this.restoreDir, id);
  }
  /** Beside a work area being deleted: the owner record of the process deleting it. */
  restoreCleanerFile(id: string): string {
    return `${this.restoreWorkDir(id)}${CLEANER_SUFFIX}`;
  }
}
