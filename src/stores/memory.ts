/**
 * data/hoziron.db: the memory substrate. Per-agent key-value pairs (values are JSON) and
 * session messages. WAL mode, so the daemon keeps writing while the CLI reads it or a backup
 * snapshots it; every write is its own committed transaction.
 */
import { createStore, openStore, type Db, type StoreSpec } from './sqlite.js';

export interface KvEntry {
  key: string;
  value: unknown;
  updated_at: string;
}

export interface SessionMessage {
  id: number;
  agent: string;
  session: string;
  role: string;
  content: string;
  created_at: string;
}

export const MEMORY_SPEC: StoreSpec = {
  name: 'data/hoziron.db',
  wal: true,
  migrations: [
    (db) =>
      db.exec(`
        CREATE TABLE kv (
          agent      TEXT NOT NULL,
          key        TEXT NOT NULL,
          value      TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (agent, key)
        ) WITHOUT ROWID;
        CREATE TABLE session_messages (
          id         INTEGER PRIMARY KEY,
          agent      TEXT NOT NULL,
          session    TEXT NOT NULL,
          role       TEXT NOT NULL,
          content    TEXT NOT NULL,
          created_at TEXT NOT NULL
        );
        CREATE INDEX session_messages_by_session ON session_messages (agent, session, id);
      `),
  ],
};

export class MemoryStore {
  private constructor(private readonly db: Db) {}

  static open(path: string): MemoryStore {
    return new MemoryStore(openStore(path, MEMORY_SPEC));
  }

  static async create(path: string): Promise<void> {
    await createStore(path, MEMORY_SPEC, 0o600);
    // Switch the new file to WAL once; the mode is persistent.
    MemoryStore.open(path).close();
  }

  put(agent: string, key: string, value: unknown): KvEntry {
    const updated_at = new Date().toISOString();
    this.db
      .prepare(
        'INSERT INTO kv (agent, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (agent, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      )
      .run(agent, key, JSON.stringify(value), updated_at);
    return { key, value, updated_at };
  }

  get(agent: string, key: string): KvEntry | undefined {
    const row = this.db.prepare('SELECT key, value, updated_at FROM kv WHERE agent = ? AND key = ?').get(agent, key) as
      { key: string; value: string; updated_at: string } | undefined;
    return row && { key: row.key, value: JSON.parse(row.value) as unknown, updated_at: row.updated_at };
  }

  list(agent: string): KvEntry[] {
    const rows = this.db.prepare('SELECT key, value, updated_at FROM kv WHERE agent = ? ORDER BY key').all(agent) as {
      key: string;
      value: string;
      updated_at: string;
    }[];
    return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as unknown, updated_at: r.updated_at }));
  }

  delete(agent: string, key: string): boolean {
    return this.db.prepare('DELETE FROM kv WHERE agent = ? AND key = ?').run(agent, key).changes > 0;
  }

  appendMessage(agent: string, session: string, role: string, content: string): SessionMessage {
    const created_at = new Date().toISOString();
    const info = this.db
      .prepare('INSERT INTO session_messages (agent, session, role, content, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(agent, session, role, content, created_at);
    return { id: Number(info.lastInsertRowid), agent, session, role, content, created_at };
  }

  messages(agent: string, session: string): SessionMessage[] {
    return this.db
      .prepare('SELECT id, agent, session, role, content, created_at FROM session_messages WHERE agent = ? AND session = ? ORDER BY id')
      .all(agent, session) as SessionMessage[];
  }

  close(): void {
    this.db.close();
  }
}
