/**
 * What a restore reports: the dry run names every path that changes and how old the backup is
 * (the work a restore would discard); a restore that has committed is reported as a success
 * even when a step after the commit fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync, tempDir } from '../support/cli.js';
import { cli, dumpDb, makeHome, waitForCleanup } from './support/home.js';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('hoziron-report-');
});
afterAll(() => tmp.cleanup());

interface Kind {
  count: number;
  paths: string[];
}
interface Plan {
  changes: { added: Kind; replaced: Kind; removed: Kind };
  since_backup: { age_seconds: number; audit_events: number; basis: string; newest_event_at: string | null };
}

describe('restore: the dry run names what changes and what work would be lost', () => {
  it('lists every path added, replaced and removed, and the audit events since the backup', async () => {
    const home = join(tmp.dir, 'dry');
    await makeHome(home);
    const backup = JSON.parse((await cli(home, 'backup', 'create', '--json')).stdout) as { path: string };
    for (let i = 0; i < 12; i++) writeFileSync(join(home, `data/memory/new-${String(i).padStart(2, '0')}.md`), 'new\n');
    rmSync(join(home, 'data/agents/agent-2'), { recursive: true });
    expect((await cli(home, 'key', 'create', '--role', 'viewer', '--json')).code).toBe(0);
    const events = dumpDb(join(home, 'audit.db')).events as { seq: number; time: string }[];

    const j = await cli(home, 'backup', 'restore', backup.path, '--json');
    expect(j.code, j.stderr).toBe(0);
    const plan = JSON.parse(j.stdout) as Plan;
    // The archive has agent-2 and lacks the new files: they are "added" back and "removed".
    expect(plan.changes.added.paths).toEqual(['data/agents/agent-2/agent.toml', 'data/agents/agent-2/state.json']);
    expect(plan.changes.removed.paths).toEqual(Array.from({ length: 12 }, (_, i) => `data/memory/new-${String(i).padStart(2, '0')}.md`));
    expect(plan.changes.replaced.paths).toContain('keys.db');
    expect(plan.changes.replaced.paths).toContain('data/memory/mem-0.md');
    expect(plan.changes.replaced.paths).toHaveLength(plan.changes.replaced.count);
    // After the archived head: the backup's own backup.create event (appended once the archive
    // was written) and the key created since.
    expect(plan.since_backup).toMatchObject({ basis: 'audit_head', audit_events: 2, newest_event_at: events.at(-1)!.time });
    expect(plan.since_backup.age_seconds).toBeGreaterThanOrEqual(0);

    const human = await cli(home, 'backup', 'restore', backup.path);
    expect(human.stdout).toMatch(
      /^ {2}age: .*; 2 audit events since the backup's audit head, the newest at .*: work since then would be lost$/m,
    );
    expect(human.stdout).toMatch(/^ {2}removed: +12 files/m);
    expect(human.stdout).toMatch(/^ {6}data\/memory\/new-00\.md$/m);
    expect(human.stdout).toMatch(/^ {6}… and 2 more/m);
    expect(human.stdout).not.toMatch(/new-11\.md/);
  });
});

describe('restore: a committed restore is reported as committed', () => {
  it('a failure after the commit record (a full disk) is a warning; the next command finishes the audit and cleanup', async () => {
    const home = join(tmp.dir, 'after-commit');
    await makeHome(home);
    const backup = JSON.parse((await cli(home, 'backup', 'create', '--json')).stdout) as { id: string; path: string };
    writeFileSync(join(home, 'data/memory/after.md'), 'written after the backup\n');
    // Test-only fault injection (src/backup/restore.ts): the step after the commit fails as SQLITE_FULL would.
    const r = await runCliAsync(['--home', home, 'backup', 'restore', backup.path, '--confirm'], {
      env: { HOZIRON_TEST_FAIL_AFTER_COMMIT: '1' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Restored backup /m);
    expect(r.stderr).toMatch(/^warning: the restore is complete, but .*database or disk is full/m);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(existsSync(join(home, 'data/memory/after.md'))).toBe(false);
    expect(JSON.parse(readFileSync(join(home, '.restore/journal.json'), 'utf8'))).toMatchObject({ phase: 'committed' });

    expect((await cli(home, 'backup', 'list')).code).toBe(0); // recovery rolls the committed journal forward
    expect(await waitForCleanup(home)).toBe(true);
    const events = dumpDb(join(home, 'audit.db')).events as { action: string; target: string }[];
    expect(events.filter((e) => e.action === 'backup.restore').map((e) => e.target)).toEqual([backup.id]);
    expect((await cli(home, 'audit', 'verify')).code).toBe(0);
  });
});
