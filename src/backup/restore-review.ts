/**
 * What restoring an archive would do beyond its files, judged before anything is swapped
 * (whether it leaves a usable home at all is restorable.ts's, shared with verify): which
 * settings of the restored config change the platform's behaviour, and how the set of usable
 * API keys changes. Revocations are never undone by a restore: those of the
 * current home are applied to the staged keys.db before the swap (`applyRevocations`), while
 * the staged tree is still the restore's own, so the swap's crash safety covers them.
 */
import type { RestoreKeyChanges, RestoreKeyRef, RestoreSettingChange } from '../api/restore.js';
import type { LoadedConfig } from '../home/config.js';
import type { HomeLayout } from '../home/layout.js';
import { KEYS_SPEC } from '../stores/keys.js';
import { openForCheck, openStore } from '../stores/sqlite.js';
import { exists } from '../fsutil/exists.js';
import { fsyncFile } from '../fsutil/durable.js';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Settings of the restored config that differ from the current one, with why each matters. */
export function behaviourChanges(current: LoadedConfig, restored: LoadedConfig | undefined): RestoreSettingChange[] {
  if (!restored) return [];
  const changes: RestoreSettingChange[] = [];
  const add = (key: string, before: unknown, after: unknown, note?: string) => {
    if (String(before) !== String(after)) changes.push({ key, before: String(before), after: String(after), ...(note ? { note } : {}) });
  };
  const { server: s0, backup: b0 } = current.config;
  const { server: s1, backup: b1 } = restored.config;
  add(
    'server.listen',
    s0.listen,
    s1.listen,
    isLoopback(restored.listen.host) ? undefined : 'the daemon would listen beyond this host (not a loopback address)',
  );
  add('backup.storage_path', current.storageDir, restored.storageDir, 'backups would be written to and listed from another directory');
  add('backup.schedule', b0.schedule, b1.schedule);
  add('backup.retention', b0.retention, b1.retention);
  add('backup.backup_on_shutdown', b0.backup_on_shutdown, b1.backup_on_shutdown);
  return changes;
}

interface KeyRow extends RestoreKeyRef {
  revoked_at: string | null;
}

/** Every key of a keys.db (no token hashes), or none when there is no readable keys.db. */
async function keysOf(path: string): Promise<Map<string, KeyRow>> {
  const keys = new Map<string, KeyRow>();
  if (!(await exists(path))) return keys;
  const db = openForCheck(path);
  try {
    for (const k of db.prepare('SELECT id, name, role, revoked_at FROM api_keys').all() as KeyRow[]) keys.set(k.id, k);
  } finally {
    db.close();
  }
  return keys;
}

const ref = (k: KeyRow): RestoreKeyRef => ({ id: k.id, name: k.name, role: k.role });

/**
 * Compare the current home's keys with the staged keys.db, and revoke in the staged one
 * every key the current home has revoked (keeping its revocation time). The staged file is
 * opened for writing only when there is something to revoke, and fsynced after; run it
 * before the journal is written. Returns how the usable keys change.
 */
export async function applyRevocations(home: HomeLayout, stagedKeysDb: string, write: boolean): Promise<RestoreKeyChanges> {
  const current = await keysOf(home.keysDb);
  const staged = await keysOf(stagedKeysDb);
  const changes: RestoreKeyChanges = { come_back: [], go_away: [], kept_revoked: [] };
  const revoke: KeyRow[] = [];
  for (const k of staged.values()) {
    if (k.revoked_at !== null) continue;
    const now = current.get(k.id);
    if (now?.revoked_at) {
      changes.kept_revoked.push(ref(k));
      revoke.push(now);
    } else if (!now) changes.come_back.push(ref(k));
  }
  for (const k of current.values()) {
    const after = staged.get(k.id);
    if (k.revoked_at === null && (!after || after.revoked_at !== null)) changes.go_away.push(ref(k));
  }
  if (write && revoke.length > 0) {
    const db = openStore(stagedKeysDb, KEYS_SPEC);
    try {
      const stmt = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
      db.transaction(() => {
        for (const k of revoke) stmt.run(k.revoked_at, k.id);
      })();
    } finally {
      db.close();
    }
    await fsyncFile(stagedKeysDb);
  }
  return changes;
}
