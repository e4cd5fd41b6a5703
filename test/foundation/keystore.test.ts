import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { KeyStore } from '../../src/stores/keys.js';
import { tempDir } from '../support/cli.js';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function store(): Promise<{ keys: KeyStore; adminToken: string }> {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const path = join(dir, 'keys.db');
  const admin = await KeyStore.create(path);
  const keys = KeyStore.open(path);
  cleanups.unshift(() => keys.close());
  return { keys, adminToken: admin.token };
}

describe('KeyStore', () => {
  it('authenticates a token until it is revoked, and never after', async () => {
    const { keys } = await store();
    const k = keys.create('operator', 'ci');
    expect(keys.authenticate(k.token)).toMatchObject({ id: k.id, role: 'operator' });
    keys.revoke(k.id);
    expect(keys.authenticate(k.token)).toBeUndefined();
  });

  it('rejects a token whose secret differs, a malformed token and an unknown id', async () => {
    const { keys, adminToken } = await store();
    expect(keys.authenticate(adminToken)).toMatchObject({ role: 'admin' });
    const last = adminToken.at(-1) === 'A' ? 'B' : 'A';
    expect(keys.authenticate(adminToken.slice(0, -1) + last)).toBeUndefined();
    expect(keys.authenticate('not-a-token')).toBeUndefined();
    expect(keys.authenticate(`hzk_0000000000000000_${'A'.repeat(43)}`)).toBeUndefined();
  });
});
