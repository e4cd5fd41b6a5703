/**
 * audit.db: the append-only event log. Every event stores `prev_hash` and
 * `hash = SHA-256(prev_hash ‖ canonical event)`, where the canonical event is the JSON array
 * `[seq, time, actor, action, target, detail]` and `detail` is canonical JSON (sorted keys).
 * Sequence numbers start at 1 with the genesis event, whose prev_hash is 64 zeros.
 * Appends run in an IMMEDIATE transaction, so concurrent writers (CLI and daemon) chain
 * correctly. Details must never hold secrets.
 */
import { hash as digestOf } from 'node:crypto';
import { createStore, openForCheck, openStore, type Db, type StoreSpec } from './sqlite.js';

export const GENESIS_PREV_HASH = '0'.repeat(64);

export interface AuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

export interface ChainReport {
  ok: boolean;
  /** Events checked. */
  count: number;
  head: AuditHead | null;
  /** First sequence number whose event does not verify. */
  first_bad_seq?: number;
  reason?: string;
}

export const AUDIT_SPEC: StoreSpec = {
  name: 'audit.db',
  wal: true,
  migrations: [
    (db) =>
      db.exec(`
        CREATE TABLE events (
          seq       INTEGER PRIMARY KEY,
          time      TEXT NOT NULL,
          actor     TEXT NOT NULL,
          action    TEXT NOT NULL,
          target    TEXT NOT NULL,
          detail    TEXT NOT NULL,
          prev_hash TEXT NOT NULL,
          hash      TEXT NOT NULL
        );
      `),
  ],
};

/** JSON with object keys sorted at every level: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The hash of an event given its fields as stored (detail as its canonical text). */
export function eventHash(
  prevHash: string,
  seq: number,
  time: string,
  actor: string,
  action: string,
  target: string,
  detailText: string,
): string {
  const canonical = JSON.stringify([seq, time, actor, action, target, detailText]);
  // One-shot hash of prevHash then the canonical text (a verify hashes every event).
  return digestOf('sha256', prevHash + canonical, 'hex');
}

/** An event's detail; text that is not a JSON object (a damaged row) is shown as it is. */
function parseDetail(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  return { unparsed: text };
}

interface EventRow {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  detail: string;
  prev_hash: string;
  hash: string;
}

/** Walk the chain of an open database from genesis; stops at the first bad event. */
function verifyRows(db: Db, upTo?: AuditHead): ChainReport {
  let prev = GENESIS_PREV_HASH;
  let expectedSeq = 1;
  let count = 0;
  let head: AuditHead | null = null;
  const stmt = db.prepare('SELECT seq, time, actor, action, target, detail, prev_hash, hash FROM events ORDER BY seq');
  for (const row of stmt.iterate() as IterableIterator<EventRow>) {
    if (upTo && row.seq > upTo.seq) break;
    const bad = (reason: string): ChainReport => ({ ok: false, count, head, first_bad_seq: row.seq, reason });
    if (row.seq !== expectedSeq) return { ok: false, count, head, first_bad_seq: expectedSeq, reason: `event ${expectedSeq} is missing` };
    if (row.prev_hash !== prev) return bad(`prev_hash does not match the hash of event ${row.seq - 1}`);
    const hash = eventHash(prev, row.seq, row.time, row.actor, row.action, row.target, row.detail);
    if (hash !== row.hash) return bad('hash does not match the event');
    prev = row.hash;
    head = { seq: row.seq, hash: row.hash };
    expectedSeq++;
    count++;
  }
  if (count === 0) return { ok: false, count, head, first_bad_seq: 1, reason: 'the genesis event is missing' };
  if (upTo && (head === null || head.seq !== upTo.seq || head.hash !== upTo.hash)) {
    return {
      ok: false,
      count,
      head,
      first_bad_seq: Math.min(upTo.seq, (head?.seq ?? 0) + 1),
      reason: `the chain does not reach the expected head (seq ${upTo.seq})`,
    };
  }
  return { ok: true, count, head };
}

export class AuditLog {
  private constructor(private readonly db: Db) {}

  static open(path: string): AuditLog {
    return new AuditLog(openStore(path, AUDIT_SPEC));
  }

  /** Create audit.db with its schema and the genesis event. */
  static async create(path: string, actor = 'hoziron init'): Promise<void> {
    await createStore(path, AUDIT_SPEC, 0o600, (db) => {
      new AuditLog(db).append(actor, 'audit.genesis', 'audit.db', {});
    });
  }

  /**
   * Verify the chain of the audit database at `path` without changing it (`openForCheck`;
   * works on archived copies). With `upTo`, the chain must verify up to and including that
   * head; events after it are not checked.
   */
  static verifyFile(path: string, upTo?: AuditHead): ChainReport {
    const db = openForCheck(path);
    try {
      return verifyRows(db, upTo);
    } finally {
      db.close();
    }
  }

  append(actor: string, action: string, target: string, detail: Record<string, unknown> = {}): AuditEvent {
    return this.db
      .transaction((): AuditEvent => {
        const last = this.db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as AuditHead | undefined;
        const seq = (last?.seq ?? 0) + 1;
        const prev = last?.hash ?? GENESIS_PREV_HASH;
        const time = new Date().toISOString();
        const detailText = canonicalJson(detail);
        const hash = eventHash(prev, seq, time, actor, action, target, detailText);
        this.db
          .prepare('INSERT INTO events (seq, time, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(seq, time, actor, action, target, detailText, prev, hash);
        return { seq, time, actor, action, target, detail, prev_hash: prev, hash };
      })
      .immediate();
  }

  /** Events newest first, without their detail: for a scan that stops early. */
  newestFirst(): IterableIterator<Pick<AuditEvent, 'seq' | 'time' | 'action' | 'target'>> {
    return this.db.prepare('SELECT seq, time, action, target FROM events ORDER BY seq DESC').iterate() as IterableIterator<
      Pick<AuditEvent, 'seq' | 'time' | 'action' | 'target'>
    >;
  }

  /** Events after `seq` with one of `actions`, oldest first: an incremental reader's next batch. */
  eventsAfter(seq: number, actions: readonly string[], limit = 1000): AuditEvent[] {
    const marks = actions.map(() => '?').join(', ');
    const rows = this.db
      .prepare(
        `SELECT seq, time, actor, action, target, detail, prev_hash, hash FROM events WHERE seq > ? AND action IN (${marks}) ORDER BY seq LIMIT ?`,
      )
      .all(seq, ...actions, limit) as EventRow[];
    return rows.map((r) => ({ ...r, detail: parseDetail(r.detail) }));
  }

  head(): AuditHead | null {
    return (this.db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as AuditHead | undefined) ?? null;
  }

  verify(): ChainReport {
    return verifyRows(this.db);
  }

  /** The newest `n` events, oldest first. */
  tail(n: number): AuditEvent[] {
    const rows = this.db
      .prepare('SELECT seq, time, actor, action, target, detail, prev_hash, hash FROM events ORDER BY seq DESC LIMIT ?')
      .all(n) as EventRow[];
    return rows.reverse().map((r) => ({ ...r, detail: parseDetail(r.detail) }));
  }

  close(): void {
    this.db.close();
  }
}
