/** Recovery judges the restore journal by its owner record, not by a pid alone (docs/operations.md#lock-files). */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recoverInterruptedRestore } from '../../src/backup/journal.js';
import { HomeLayout } from '../../src/home/layout.js';
import { tempDir } from '../support/cli.js';
import { ageFile, otherNamespaceOwner, ownerRecord } from '../support/owner.js';

const { dir, cleanup } = tempDir('hoziron-journal-');
afterAll(cleanup);

/** A work area's id as a restore makes it (recovery refuses any other). */
const RESTORE_ID = '3f2c9a1e-8b7d-4c6a-9e5f-0a1b2c3d4e5f';

function homeWithJournal(name: string, owner: object): HomeLayout {
  const home = new HomeLayout(join(dir, name));
  mkdirSync(join(home.restoreDir, RESTORE_ID), { recursive: true });
  const journal = { version: 1, id: RESTORE_ID, pid: 1, owner, phase: 'swapping', scope: 'agents', archive_id: 'a', archive_path: '/x' };
  writeFileSync(home.restoreJournal, JSON.stringify({ ...journal, safety_backup_id: null, actor: 't', items: [] }));
  return home;
}

describe('the restore journal', () => {
  it('whose pid (1) was reused by another process does not freeze the home: it is rolled back', async () => {
    const home = homeWithJournal('reused', ownerRecord({ pid: 1, start_time: '3' }));
    await recoverInterruptedRestore(home);
    expect(existsSync(home.restoreDir)).toBe(false);
  });

  it('of a restore running in another PID namespace means busy while it beats, and is recovered once silent', async () => {
    const home = homeWithJournal('elsewhere', otherNamespaceOwner({ host: 'restore-pod' }));
    await expect(recoverInterruptedRestore(home)).rejects.toThrow(/a restore is in progress \(pid 1 on host restore-pod/);
    ageFile(home.restoreJournal, 5 * 60_000);
    await recoverInterruptedRestore(home);
  });
});
