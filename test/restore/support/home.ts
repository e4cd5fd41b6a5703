/** A populated temporary home and byte-level snapshots of it, for restore tests. */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCliAsync } from '../../support/cli.js';

/** Run `hoziron --home <home> ...args` (asynchronously: a blocked test worker misses its RPC deadlines). */
export function cli(home: string, ...args: string[]) {
  return runCliAsync(['--home', home, ...args]);
}

/** Wait until a restore's background cleanup has removed `.restore/` (at most `ms`). */
export async function waitForCleanup(home: string, ms = 60_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (existsSync(join(home, '.restore'))) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** `hoziron init` and some agents, memory files and database rows. */
export async function makeHome(home: string, agents = 3): Promise<void> {
  const r = await cli(home, 'init');
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
  for (let i = 0; i < agents; i++) {
    mkdirSync(join(home, `data/agents/agent-${i}`), { recursive: true });
    writeFileSync(join(home, `data/agents/agent-${i}/agent.toml`), `name = "agent-${i}"\n`);
    writeFileSync(join(home, `data/agents/agent-${i}/state.json`), `{"state":"idle","n":${i}}\n`);
    writeFileSync(join(home, `data/memory/mem-${i}.md`), `memory ${i}\n`.repeat(50));
  }
  mkdirSync(join(home, 'data/memory/empty-dir'));
  writeFileSync(join(home, 'data/skills/pkg.bin'), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 131) % 256)));
  const db = new Database(join(home, 'data/hoziron.db'));
  const put = db.prepare("INSERT INTO kv (agent, key, value, updated_at) VALUES (?, ?, ?, '2026-01-01T00:00:00Z')");
  for (let i = 0; i < 50; i++) put.run(`agent-${i % 3}`, `k${i}`, JSON.stringify({ v: i }));
  db.close();
}

/**
 * Every entry under `root` (except `skip` top-level names): type, mode and content hash.
 * Two equal snapshots mean a byte-identical tree.
 */
export function snapshotTree(root: string, skip: string[] = ['backups', 'run']): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (!rel && skip.includes(name)) continue;
      const st = lstatSync(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `link ${readlinkSync(join(root, r))}`;
      else
        out[r] = `file ${mode} ${createHash('sha256')
          .update(readFileSync(join(root, r)))
          .digest('hex')}`;
    }
  };
  walk('');
  return out;
}

/** Rows of every table of a database, for "equal by content". */
export function dumpDb(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) out[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all();
    out.user_version = [db.pragma('user_version', { simple: true })];
    return out;
  } finally {
    db.close();
  }
}
