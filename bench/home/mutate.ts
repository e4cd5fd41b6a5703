/**
 * The "small change" between two backups (README.md#performance): 1 % of the home's data
 * files rewritten in place and a few thousand rows of the memory database updated or added,
 * as a day of use would leave them. Deterministic: the same seed, step and home give the
 * same change, so every tool in a run backs up exactly the same second state. Each step
 * is a different change, so steps can follow one another on the same home.
 *
 * Files are rewritten in place (truncate and write, as an application saves), keeping
 * their modes; the database is changed through SQLite in one transaction, so it stays a
 * valid WAL-mode database that the product snapshots as usual.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { HOME_FILES } from '../../src/home/layout.js';
import { Prng } from './prng.js';
import { ChatText } from './text.js';

export interface Mutation {
  files: number;
  bytes: number;
  rows_updated: number;
  rows_added: number;
}

/** Share of the data files rewritten by one step. */
const FILE_SHARE = 0.01;
/** Rows per step at scale 1 (updated, added); scaled with the home. */
const ROWS_UPDATED = 3_000;
const ROWS_ADDED = 300;

/** Every regular file under data/ but the database itself, home-relative and sorted. */
function dataFiles(root: string): string[] {
  const dataDir = join(root, 'data');
  const db = relative('data', HOME_FILES.memory);
  return readdirSync(dataDir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dataDir, join(e.parentPath, e.name)))
    .filter((p) => p !== db && !p.startsWith(`${db}-`))
    .sort();
}

/** Pick `n` distinct indices below `count`, in a deterministic order. */
function pickDistinct(rng: Prng, count: number, n: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, count)) picked.add(rng.int(0, count - 1));
  return [...picked];
}

function rewriteFile(path: string, rng: Prng, text: ChatText, step: number): number {
  const old = readFileSync(path);
  let data: Buffer;
  if (path.endsWith('.tar.gz')) {
    data = rng.fill(Buffer.allocUnsafe(old.length)); // a package updated: new incompressible bytes
  } else {
    // A text file saved again: the head kept, the body replaced by new text of about its size.
    const head = old.subarray(0, Math.min(old.length, 64)).toString('utf8');
    data = Buffer.from(`${head}\n<!-- revision ${step} -->\n${text.message(Math.max(40, old.length - head.length))}\n`);
  }
  writeFileSync(path, data);
  return data.length;
}

export function mutateHome(root: string, seed: number, step: number, scale = 1): Mutation {
  const rng = new Prng(seed, `mutate-${step}`);
  const text = new ChatText(rng, 2_000);
  const files = dataFiles(root);
  let bytes = 0;
  const chosen = pickDistinct(rng, files.length, Math.max(1, Math.round(files.length * FILE_SHARE)));
  for (const i of chosen) bytes += rewriteFile(join(root, 'data', files[i]!), rng, text, step);

  const updates = Math.max(1, Math.round(ROWS_UPDATED * scale));
  const adds = Math.max(1, Math.round(ROWS_ADDED * scale));
  const db = new Database(join(root, HOME_FILES.memory));
  try {
    db.pragma('busy_timeout = 5000');
    const maxId = (db.prepare('SELECT max(id) AS m FROM session_messages').get() as { m: number | null }).m ?? 0;
    const last = db.prepare('SELECT agent, session FROM session_messages WHERE id = ?');
    const update = db.prepare('UPDATE session_messages SET content = ? WHERE id = ?');
    const insert = db.prepare('INSERT INTO session_messages (agent, session, role, content, created_at) VALUES (?, ?, ?, ?, ?)');
    const at = new Date(Date.UTC(2026, 0, 1) + step * 86_400_000).toISOString();
    db.transaction(() => {
      for (const id of pickDistinct(rng, maxId, updates)) update.run(text.message(rng.int(100, 1200)), id + 1);
      const tail = last.get(maxId) as { agent: string; session: string } | undefined;
      for (let n = 0; n < adds && tail; n++) {
        insert.run(tail.agent, tail.session, n % 2 ? 'assistant' : 'user', text.message(rng.int(50, 900)), at);
      }
    })();
  } finally {
    db.close();
  }
  return { files: chosen.length, bytes, rows_updated: updates, rows_added: adds };
}
