/**
 * Managing API keys from the command line: each change to keys.db is recorded in the audit
 * trail (key id, role and name; never the token). The key change commits first and the
 * audit event second, so a crash between them leaves a key whose creation is unrecorded,
 * never a recorded event for a key that does not exist.
 */
import { HozironError } from '../errors.js';
import { AuditLog } from '../stores/audit.js';
import { KeyStore, ROLES, isRole, type CreatedKey, type KeyInfo } from '../stores/keys.js';
import type { HomeLayout } from '../home/layout.js';

function withKeys<T>(home: HomeLayout, fn: (keys: KeyStore) => T): T {
  const keys = KeyStore.open(home.keysDb);
  try {
    return fn(keys);
  } finally {
    keys.close();
  }
}

function record(home: HomeLayout, actor: string, action: string, key: KeyInfo | CreatedKey): void {
  const audit = AuditLog.open(home.auditDb);
  try {
    audit.append(actor, action, key.id, { id: key.id, role: key.role, name: key.name });
  } finally {
    audit.close();
  }
}

/** Throws a usage error unless `role` is one of the known roles. */
export function checkRole(role: string): void {
  if (!isRole(role)) throw new HozironError('usage', `unknown role "${role}"`, `use one of: ${ROLES.join(', ')}`);
}

export function createApiKey(home: HomeLayout, role: string, name: string | undefined, actor: string): CreatedKey {
  checkRole(role);
  const key = withKeys(home, (keys) => keys.create(role, name));
  record(home, actor, 'key.create', key);
  return key;
}

export function listApiKeys(home: HomeLayout): KeyInfo[] {
  return withKeys(home, (keys) => keys.list());
}

/** Revoke a key; revoking a revoked key changes nothing. Unknown ids are `not_found`. */
export function revokeApiKey(home: HomeLayout, id: string, actor: string): { key: KeyInfo; changed: boolean } {
  const { key, changed } = withKeys(home, (keys) => {
    const before = keys.list().find((k) => k.id === id);
    if (!before)
      throw new HozironError('not_found', `no API key with id ${JSON.stringify(id)}`, 'list the API keys to see their ids', {
        remedy: 'list_keys',
      });
    if (before.revoked_at) return { key: before, changed: false };
    return { key: keys.revoke(id), changed: true };
  });
  if (changed) record(home, actor, 'key.revoke', key);
  return { key, changed };
}
