/**
 * keys.db: API keys for the daemon. A token is `hzk_<id>_<secret>`; it is returned once,
 * at creation, and only its SHA-256 is stored. Authentication finds the key by the id in
 * the token and compares hashes in constant time. Listing never shows a token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HozironError } from '../errors.js';
import { createStore, openStore, type Db, type StoreSpec } from './sqlite.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Roles are ordered viewer < operator < admin. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export interface KeyInfo {
  id: string;
  name: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedKey {
  id: string;
  name: string;
  role: Role;
  /** Shown once; never stored. */
  token: string;
}

export const KEYS_SPEC: StoreSpec = {
  name: 'keys.db',
  wal: true,
  migrations: [
    (db) =>
      db.exec(`
        CREATE TABLE api_keys (
          id           TEXT PRIMARY KEY,
          name         TEXT NOT NULL,
          role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
          token_sha256 BLOB NOT NULL,
          created_at   TEXT NOT NULL,
          last_used_at TEXT,
          revoked_at   TEXT
        );
      `),
  ],
};

const TOKEN_RE = /^hzk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function mint(db: Db, role: Role, name: string): CreatedKey {
  const id = randomBytes(8).toString('hex');
  const token = `hzk_${id}_${randomBytes(32).toString('base64url')}`;
  db.prepare('INSERT INTO api_keys (id, name, role, token_sha256, created_at) VALUES (?, ?, ?, ?, ?)').run(
    id,
    name,
    role,
    sha256(token),
    new Date().toISOString(),
  );
  return { id, name, role, token };
}

export class KeyStore {
  private constructor(private readonly db: Db) {}

  static open(path: string): KeyStore {
    return new KeyStore(openStore(path, KEYS_SPEC));
  }

  /** Create keys.db (mode 0600) holding a first admin key; returns that key. */
  static async create(path: string): Promise<CreatedKey> {
    let first: CreatedKey | undefined;
    await createStore(path, KEYS_SPEC, 0o600, (db) => {
      first = mint(db, 'admin', 'initial admin');
    });
    return first!;
  }

  create(role: string, name?: string): CreatedKey {
    if (!isRole(role)) {
      throw new HozironError('usage', `unknown role "${role}"`, `use one of: ${ROLES.join(', ')}`);
    }
    return mint(this.db, role, name ?? `${role} key`);
  }

  list(): KeyInfo[] {
    return this.db
      .prepare('SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at, id')
      .all() as KeyInfo[];
  }

  revoke(id: string): KeyInfo {
    const row = this.db.prepare('SELECT revoked_at FROM api_keys WHERE id = ?').get(id) as { revoked_at: string | null } | undefined;
    if (!row)
      throw new HozironError('not_found', `no API key with id ${id}`, 'list the API keys to see their ids', {
        remedy: 'list_keys',
      });
    if (!row.revoked_at) {
      this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').run(new Date().toISOString(), id);
    }
    return this.list().find((k) => k.id === id)!;
  }

  /** The key a bearer token belongs to, or undefined (unknown, malformed or revoked). */
  authenticate(token: string): KeyInfo | undefined {
    const m = TOKEN_RE.exec(token);
    if (!m) return undefined;
    const row = this.db
      .prepare('SELECT id, name, role, token_sha256, created_at, last_used_at, revoked_at FROM api_keys WHERE id = ?')
      .get(m[1]) as (KeyInfo & { token_sha256: Buffer }) | undefined;
    // Compare even when no row matched, so timing does not tell whether the id exists.
    const expected = row?.token_sha256 ?? Buffer.alloc(32);
    const ok = timingSafeEqual(expected, sha256(token)) && row !== undefined && row.revoked_at === null;
    if (!ok || !row) return undefined;
    const { token_sha256: _hash, ...info } = row;
    return info;
  }

  /** Record use of a key (best effort; the daemon calls it after authenticating). */
  touch(id: string): void {
    this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(new Date().toISOString(), id);
  }

  close(): void {
    this.db.close();
  }
}
