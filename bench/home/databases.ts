/**
 * The reference home's SQLite databases, built with the product's own store specs so that
 * their schemas are exactly what `hoziron` opens: data/hoziron.db (session messages and
 * key-value pairs), audit.db (a valid hash chain from genesis) and keys.db.
 *
 * Each database is filled inside `createStore`'s seed step: one big transaction with
 * prepared statements, no rollback journal (the file is a temporary name until it is
 * complete, so a crash leaves nothing behind), then renamed into place and switched to WAL
 * by an ordinary open, as `hoziron init` leaves it. Times come from the seeded generator,
 * never the clock, so the same seed gives the same rows. keys.db holds random tokens
 * (`KeyStore.create` mints them and they are never shown), so it differs between runs.
 */
import { AUDIT_SPEC, AuditLog, GENESIS_PREV_HASH, canonicalJson, eventHash } from '../../src/stores/audit.js';
import { KeyStore } from '../../src/stores/keys.js';
import { MEMORY_SPEC, MemoryStore } from '../../src/stores/memory.js';
import { createStore, type Db } from '../../src/stores/sqlite.js';
import { agentId, type HomePlan } from './plan.js';
import { Prng } from './prng.js';
import { ChatText } from './text.js';

/** Generated history starts here; events and messages move forward from it. */
const EPOCH_MS = Date.UTC(2025, 0, 1);

/** Bulk-load settings for a database that is still under its temporary name. */
function prepareBulkLoad(db: Db): void {
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -32768'); // 32 MiB
}

/**
 * Size of the database being built, pending pages included (journal off: the pager's view).
 * Targets are checked against the real file size rather than estimated from row sizes,
 * because page slack and overflow pages depend on the row-size mix.
 */
function fileBytes(db: Db): number {
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
}

/** How often (in rows) the size is checked: cheap, and fine-grained enough at scale 1. */
const SIZE_CHECK_EVERY = 64;

export async function writeMemoryDb(path: string, plan: HomePlan): Promise<{ messages: number; kv: number }> {
  const rng = new Prng(plan.seed, 'memory-db');
  const text = new ChatText(rng);
  let messages = 0;
  let kv = 0;
  await createStore(path, MEMORY_SPEC, 0o600, (db) => {
    prepareBulkLoad(db);
    const insertMessage = db.prepare(
      'INSERT INTO session_messages (id, agent, session, role, content, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const insertKv = db.prepare('INSERT INTO kv (agent, key, value, updated_at) VALUES (?, ?, ?, ?)');
    // Agents and sessions in sorted order, so the (agent, session, id) index only appends.
    const agents = Array.from({ length: plan.memoryAgents }, (_, i) => agentId(i)).sort();
    const perAgent = plan.memoryDbBytes / agents.length;
    db.transaction(() => {
      for (const [a, agent] of agents.entries()) {
        // Each agent fills the file up to its cumulative share of the target.
        const until = perAgent * (a + 1);
        let full = false;
        let t = EPOCH_MS + rng.int(0, 30 * 86_400) * 1000;
        for (let s = 1; !full; s++) {
          const session = `session-${String(s).padStart(5, '0')}`;
          const turns = rng.int(4, 60);
          for (let m = 0; m < turns && !full; m++) {
            const role = m % 2 === 0 ? 'user' : 'assistant';
            const target = role === 'user' ? rng.int(20, 600) : Math.round(150 * Math.exp(rng.float() * 3.2));
            const content = text.message(target);
            t += rng.int(2, 240) * 1000;
            insertMessage.run(++messages, agent, session, role, content, new Date(t).toISOString());
            if (messages % SIZE_CHECK_EVERY === 0) full = fileBytes(db) >= until;
          }
          t += rng.int(1, 72) * 3_600_000;
        }
        for (let k = rng.int(3, 15); k > 0; k--) {
          const value = { note: text.sentence(), weight: rng.int(0, 100), tags: [text.phrase(1), text.phrase(1)] };
          insertKv.run(agent, `pref.${String(k).padStart(2, '0')}`, JSON.stringify(value), new Date(t).toISOString());
          kv++;
        }
      }
    })();
  });
  // An ordinary open switches the finished file to WAL, the mode the daemon runs it in.
  MemoryStore.open(path).close();
  return { messages, kv };
}

const AUDIT_ACTIONS = [
  'agent.start',
  'agent.stop',
  'agent.update',
  'memory.write',
  'memory.compact',
  'workflow.run',
  'workflow.update',
  'schedule.fire',
  'skill.install',
  'integration.sync',
  'key.use',
  'backup.create',
] as const;

export async function writeAuditDb(path: string, plan: HomePlan): Promise<{ events: number; head: string }> {
  const rng = new Prng(plan.seed, 'audit-db');
  const text = new ChatText(rng, 2_000);
  let events = 0;
  let prev = GENESIS_PREV_HASH;
  await createStore(path, AUDIT_SPEC, 0o600, (db) => {
    prepareBulkLoad(db);
    const insert = db.prepare(
      'INSERT INTO events (seq, time, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const append = (time: string, actor: string, action: string, target: string, detail: Record<string, unknown>): void => {
      const seq = ++events;
      const detailText = canonicalJson(detail);
      const hash = eventHash(prev, seq, time, actor, action, target, detailText);
      insert.run(seq, time, actor, action, target, detailText, prev, hash);
      prev = hash;
    };
    db.transaction(() => {
      let t = EPOCH_MS;
      append(new Date(t).toISOString(), 'hoziron init', 'audit.genesis', 'audit.db', {});
      while (events % SIZE_CHECK_EVERY !== 0 || fileBytes(db) < plan.auditDbBytes) {
        t += rng.int(1, 900) * 1000;
        const agent = agentId(rng.int(0, plan.agents - 1));
        const action = rng.pick(AUDIT_ACTIONS);
        const actor = rng.chance(0.5) ? `agent:${agent}` : rng.chance(0.5) ? `api:${rng.hex(16)}` : 'scheduler';
        const detail = {
          agent,
          duration_ms: rng.int(1, 120_000),
          status: rng.chance(0.97) ? 'ok' : 'error',
          summary: text.sentence(),
          tokens: rng.int(0, 20_000),
          ...(rng.chance(0.3) ? { note: text.message(rng.int(80, 500)) } : {}),
        };
        append(new Date(t).toISOString(), actor, action, `${action.split('.')[0]}/${agent}`, detail);
      }
    })();
  });
  AuditLog.open(path).close();
  return { events, head: prev };
}

/** keys.db with its first admin key and a few more; the tokens are dropped, never shown. */
export async function writeKeysDb(path: string): Promise<void> {
  await KeyStore.create(path);
  const keys = KeyStore.open(path);
  try {
    keys.create('operator', 'scheduler');
    keys.create('viewer', 'dashboard');
  } finally {
    keys.close();
  }
}
