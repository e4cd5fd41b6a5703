import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog, GENESIS_PREV_HASH } from '../../src/stores/audit.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function tempPath(name: string): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, name);
}

describe('MemoryStore', () => {
  it('keeps per-agent key-value pairs and session messages', async () => {
    const path = tempPath('hoziron.db');
    await MemoryStore.create(path);
    const mem = MemoryStore.open(path);
    try {
      mem.put('a1', 'goal', { text: 'ship' });
      mem.put('a1', 'goal', { text: 'ship it' });
      mem.put('a2', 'goal', 1);
      expect(mem.get('a1', 'goal')?.value).toEqual({ text: 'ship it' });
      expect(mem.list('a1').map((e) => e.key)).toEqual(['goal']);
      expect(mem.delete('a2', 'goal')).toBe(true);
      expect(mem.get('a2', 'goal')).toBeUndefined();
      mem.appendMessage('a1', 's1', 'user', 'hello');
      mem.appendMessage('a1', 's1', 'assistant', 'hi');
      expect(mem.messages('a1', 's1').map((m) => m.content)).toEqual(['hello', 'hi']);
    } finally {
      mem.close();
    }
  });

  it('lets a reader see a consistent snapshot while a writer carries on (WAL)', async () => {
    const path = tempPath('hoziron.db');
    await MemoryStore.create(path);
    const writer = MemoryStore.open(path);
    const reader = new Database(path, { readonly: true });
    try {
      writer.appendMessage('a', 's', 'user', 'one');
      reader.exec('BEGIN');
      const count = () => (reader.prepare('SELECT count(*) AS n FROM session_messages').get() as { n: number }).n;
      expect(count()).toBe(1);
      writer.appendMessage('a', 's', 'user', 'two'); // not blocked by the open read transaction
      expect(count()).toBe(1);
      reader.exec('COMMIT');
      expect(count()).toBe(2);
    } finally {
      reader.close();
      writer.close();
    }
  });
});

describe('AuditLog', () => {
  it('chains events from the genesis event, even with two writers interleaving', async () => {
    const path = tempPath('audit.db');
    await AuditLog.create(path);
    const a = AuditLog.open(path);
    const b = AuditLog.open(path);
    try {
      for (let i = 0; i < 5; i++) {
        a.append('cli', 'test.a', String(i));
        b.append('daemon', 'test.b', String(i));
      }
      const report = a.verify();
      expect(report).toMatchObject({ ok: true, count: 11 });
      expect(report.head).toEqual(b.head());
      expect(a.tail(11)[0]).toMatchObject({ seq: 1, action: 'audit.genesis', prev_hash: GENESIS_PREV_HASH });
    } finally {
      a.close();
      b.close();
    }
  });

  it('verifies up to a given head and refuses a chain that does not reach it', async () => {
    const path = tempPath('audit.db');
    await AuditLog.create(path);
    const log = AuditLog.open(path);
    const head = log.append('cli', 'backup.create', 'x');
    log.append('cli', 'backup.create', 'y');
    log.close();
    expect(AuditLog.verifyFile(path, { seq: head.seq, hash: head.hash })).toMatchObject({ ok: true, count: 2 });
    expect(AuditLog.verifyFile(path, { seq: 2, hash: 'f'.repeat(64) })).toMatchObject({ ok: false, first_bad_seq: 2 });
  });
});
