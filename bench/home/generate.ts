/**
 * Writes a complete, valid reference home (README.md#the-home layout, README.md#performance sizes) from a seed,
 * without the CLI: the stores on main build the databases and the config module renders
 * config.toml, so the home is what `hoziron init` plus a long life of use would leave.
 *
 * Determinism: the same seed and scale give byte-identical plain files, audit.db and
 * data/hoziron.db (same SQLite library, same statements in the same order, no clock
 * times). keys.db differs between runs: its tokens are random by design.
 * A run that fails part-way leaves a partial directory; it is not a home to use.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HozironError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/fsutil/atomic.js';
import { renderDefaultConfig } from '../../src/home/config.js';
import { DATA_DIRS, HomeLayout } from '../../src/home/layout.js';
import { writeAuditDb, writeKeysDb, writeMemoryDb } from './databases.js';
import { makeDir, writeAgents, writeEnv, writeMemoryFiles, writeOtherData, writeSkills } from './files.js';
import { planHome, type HomePlan } from './plan.js';

/**
 * Bump when the generator's output changes for a given seed and scale, so that cached
 * reference homes (`.bench-cache/`) are rebuilt rather than silently reused.
 */
export const GENERATOR_VERSION = 1;

export interface GenerateOptions {
  scale: number;
  seed: number;
  /** Replace an existing non-empty output directory (only one that looks like a home). */
  force?: boolean;
  /** Called as each part finishes, for a progress line. */
  onPart?: (part: string, seconds: number) => void;
}

export interface GenerateSummary {
  home: string;
  plan: HomePlan;
  files: number;
  bytes: number;
  seconds: number;
  messages: number;
  audit_events: number;
  audit_head: string;
}

function prepareOutput(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  if (!force) {
    throw new HozironError('conflict', `${out} exists and is not empty`, 'choose another --out, or pass --force to replace it');
  }
  // --force replaces an earlier generated home, never some other directory by mistake.
  if (!entries.includes('config.toml') && !entries.includes('data')) {
    throw new HozironError('conflict', `${out} is not empty and does not look like a Hoziron home; refusing to delete it`);
  }
  for (const e of entries) rmSync(join(out, e), { recursive: true, force: true });
}

/** Count the regular files and their bytes under `dir`. */
function measureTree(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += statSync(join(e.parentPath, e.name)).size;
  }
  return { files, bytes };
}

export async function generateReferenceHome(out: string, opts: GenerateOptions): Promise<GenerateSummary> {
  const started = performance.now();
  const plan = planHome(opts.scale, opts.seed);
  prepareOutput(out, opts.force ?? false);
  const home = new HomeLayout(out);
  // Modes as `hoziron init` sets them (src/home/init.ts).
  if (!existsSync(home.root)) makeDir(home.root, 0o700);
  makeDir(home.dataDir);
  for (const d of DATA_DIRS) makeDir(home.dataSubdir(d));
  makeDir(home.runDir, 0o700);
  makeDir(home.defaultStorage, 0o700);

  let last = performance.now();
  const part = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    const result = await fn();
    const now = performance.now();
    opts.onPart?.(name, (now - last) / 1000);
    last = now;
    return result;
  };

  await part('config.toml, .env, keys.db', async () => {
    await writeFileAtomic(home.config, renderDefaultConfig(), { mode: 0o600 });
    writeEnv(home, plan);
    await writeKeysDb(home.keysDb);
  });
  const audit = await part('audit.db', () => writeAuditDb(home.auditDb, plan));
  const memory = await part('data/hoziron.db', () => writeMemoryDb(home.memoryDb, plan));
  await part('data/agents', () => writeAgents(home, plan));
  await part('data/memory', () => writeMemoryFiles(home, plan));
  await part('data/skills', () => writeSkills(home, plan));
  await part('workflows, schedules, competencies, integrations', () => writeOtherData(home, plan));

  const { files, bytes } = measureTree(home.root);
  return {
    home: home.root,
    plan,
    files,
    bytes,
    seconds: (performance.now() - started) / 1000,
    messages: memory.messages,
    audit_events: audit.events,
    audit_head: audit.head,
  };
}
