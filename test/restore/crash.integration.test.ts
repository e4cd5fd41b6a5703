/**
 * The crash test: `kill -9` a restore at random instants, run another command, and require
 * the home to be entirely the old state or entirely the new one, never a mix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BIN, runCliAsync, tempDir } from '../support/cli.js';
import { cli, dumpDb, makeHome, snapshotTree, waitForCleanup } from './support/home.js';

const KILLS = Number(process.env.HOZIRON_CRASH_KILLS ?? 6);
/** Swap steps at which the restore kills itself (0 = journal written … 43 = committed, full scope). */
const STEPS = [0, 1, 21, 42, 43];

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('hoziron-crash-');
});
afterAll(() => tmp.cleanup());

type Snap = Record<string, string>;

/** Does `home` equal `expected` (files other than audit.db exactly; audit.db by chain prefix)? */
function matches(home: string, expected: Snap, auditEvents: unknown[]): boolean {
  const now = snapshotTree(home);
  const keys = (s: Snap) =>
    Object.keys(s)
      .filter((k) => k !== 'audit.db' && !k.endsWith('-wal') && !k.endsWith('-shm'))
      .sort();
  if (JSON.stringify(keys(now)) !== JSON.stringify(keys(expected))) return false;
  for (const k of keys(expected)) if (now[k]!.replace(/^(\w+) \d+/, '$1') !== expected[k]!.replace(/^(\w+) \d+/, '$1')) return false;
  const events = dumpDb(join(home, 'audit.db')).events as unknown[];
  return JSON.stringify(events.slice(0, auditEvents.length)) === JSON.stringify(auditEvents);
}

function runUntilKilled(args: string[], delayMs: number, extraEnv: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('HOZIRON_')) delete env[k];
    Object.assign(env, extraEnv);
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

interface Fixture {
  archive: string;
  duration: number;
  reset: () => Promise<void>;
  home: string;
  classify: () => 'old' | 'new' | 'mixed';
}
let fx: Fixture;

async function afterKill(fixture: Fixture, what: string): Promise<'old' | 'new'> {
  const after = await cli(fixture.home, 'backup', 'list'); // any command recovers
  expect(after.code, after.stderr).toBe(0);
  // A restore that completed leaves its old state to a background cleanup; anything else
  // must be gone once the command above has run.
  expect(await waitForCleanup(fixture.home), `.restore left after ${what}`).toBe(true);
  const state = fixture.classify();
  expect(state, `state after ${what}`).not.toBe('mixed');
  expect((await cli(fixture.home, 'audit', 'verify')).code).toBe(0);
  return state as 'old' | 'new';
}

describe('restore crash safety', () => {
  beforeAll(async () => {
    const pristine = join(tmp.dir, 'pristine');
    await makeHome(pristine, 50);
    // Enough small files and database pages that a restore takes a while.
    for (let i = 0; i < 800; i++) writeFileSync(join(pristine, `data/memory/m-${i}.md`), `memory file ${i}\n`.repeat(20));
    const db = new Database(join(pristine, 'data/hoziron.db'));
    const ins = db.prepare(
      "INSERT INTO session_messages (agent, session, role, content, created_at) VALUES ('a', 's', 'user', ?, '2026-01-01T00:00:00Z')",
    );
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) ins.run(`message ${i} ${'x'.repeat(200)}`);
    })();
    db.close();
    const created = await cli(pristine, 'backup', 'create', '--json');
    expect(created.code, created.stderr).toBe(0);
    const archive = JSON.parse(created.stdout) as { path: string };
    // The new state: what the archive holds (extracted by the system's tar).
    const extracted = join(tmp.dir, 'new');
    mkdirSync(extracted);
    expect(spawnSync('tar', ['-xzf', archive.path, '-C', extracted]).status).toBe(0);
    const newSnap = snapshotTree(extracted, ['MANIFEST.json']);
    const newAudit = dumpDb(join(extracted, 'audit.db')).events as unknown[];
    // The old state: the home changed after the backup.
    for (let i = 0; i < 300; i++) rmSync(join(pristine, `data/memory/m-${i}.md`));
    writeFileSync(join(pristine, 'data/memory/only-in-old.md'), 'old\n');
    rmSync(join(pristine, 'data/agents/agent-3'), { recursive: true });
    writeFileSync(join(pristine, 'config.toml'), '# old config\n[backup]\nretention = 5\n');
    const oldSnap = snapshotTree(pristine);
    const oldAudit = dumpDb(join(pristine, 'audit.db')).events as unknown[];

    const home = join(tmp.dir, 'home');
    const reset = async () => {
      // A background cleanup of the previous run may still be deleting inside the home.
      await waitForCleanup(home);
      rmSync(home, { recursive: true, force: true });
      cpSync(pristine, home, { recursive: true });
    };

    // One uninterrupted restore gives the duration over which to spread the kills.
    await reset();
    const started = Date.now();
    const full = await cli(home, 'backup', 'restore', archive.path, '--confirm');
    const duration = Date.now() - started;
    expect(full.code, full.stderr).toBe(0);
    await waitForCleanup(home);
    expect(matches(home, newSnap, newAudit)).toBe(true);
    const classify = () => (matches(home, newSnap, newAudit) ? 'new' : matches(home, oldSnap, oldAudit) ? 'old' : 'mixed');
    fx = { archive: archive.path, duration, reset, home, classify };
  }, 300_000);

  it(`leaves the home entirely old or entirely new when killed at ${KILLS} random instants`, async () => {
    const outcomes = { old: 0, new: 0 };
    for (let k = 0; k < KILLS; k++) {
      await fx.reset();
      // Half the kills anywhere, half in the last stretch (safety backup and swap).
      const delay = k % 2 === 0 ? Math.random() * fx.duration * 1.05 : fx.duration * (0.6 + Math.random() * 0.45);
      await runUntilKilled(['--home', fx.home, 'backup', 'restore', fx.archive, '--confirm'], delay);
      outcomes[await afterKill(fx, `a kill at ${delay.toFixed(0)} ms`)]++;
    }
    console.log(`crash test: ${KILLS} kills over a ${fx.duration} ms restore → ${outcomes.old} old, ${outcomes.new} new`);
  }, 600_000);

  it('recovers from a kill at every stage of the swap: rolled back before the commit, forward after', async () => {
    for (const step of STEPS) {
      await fx.reset();
      await runUntilKilled(['--home', fx.home, 'backup', 'restore', fx.archive, '--confirm'], 600_000, {
        HOZIRON_TEST_KILL_AT_SWAP_STEP: String(step),
      });
      expect(existsSync(join(fx.home, '.restore/journal.json')), `journal after a kill at swap step ${step}`).toBe(true);
      expect(await afterKill(fx, `a kill at swap step ${step}`)).toBe(step === 43 ? 'new' : 'old');
    }
  }, 600_000);

  it('makes the safety backup exactly once after its finisher is killed at every step, and it restores the old state', async () => {
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // The old state as a restore of its safety backup brings it back: databases by content
    // (the archive holds snapshots of them), every other file and directory by type and bytes.
    const byContent = () => {
      const tree = Object.entries(snapshotTree(fx.home))
        .filter(([k]) => !/\.db(-wal|-shm)?$/.test(k))
        .map(([k, v]) => `${k} ${v.replace(/^(\w+) \d+/, '$1')}`);
      return { tree, keys: dumpDb(join(fx.home, 'keys.db')), mem: dumpDb(join(fx.home, 'data/hoziron.db')) };
    };
    for (const step of ['claimed', 'linked', 'unmarked']) {
      await fx.reset();
      const old = byContent();
      const r = await runCliAsync(['--home', fx.home, 'backup', 'restore', fx.archive, '--confirm', '--json'], {
        env: { HOZIRON_TEST_KILL_IN_SAFETY: step },
      });
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as { restore_id: string; safety_backup: { id: string; pending?: boolean } };
      expect(result.safety_backup.pending).toBe(true);
      // The detached finisher kills itself at `step`; wait until it is gone.
      const area = join(fx.home, '.restore', result.restore_id);
      for (let i = 0; i < 600 && existsSync(join(area, 'owner')); i++) {
        const pid = (JSON.parse(readFileSync(join(area, 'owner'), 'utf8')) as { pid: number }).pid;
        if (!alive(pid) && pid !== undefined) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(existsSync(join(area, 'old')), `aside tree after a kill at ${step}`).toBe(true);
      expect(existsSync(join(area, 'safety.json')), `marker after a kill at ${step}`).toBe(step !== 'unmarked');

      expect(await afterKill(fx, `a kill of the safety finisher at ${step}`)).toBe('new');
      const list = JSON.parse((await cli(fx.home, 'backup', 'list', '--json')).stdout) as { id: string; pending?: boolean; file: string }[];
      expect(list.filter((b) => b.id === result.safety_backup.id).map((b) => b.pending ?? false)).toEqual([false]);
      expect(readdirSync(join(fx.home, 'backups/pre-restore')).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(1);

      const back = await cli(fx.home, 'backup', 'restore', result.safety_backup.id, '--confirm');
      expect(back.code, back.stderr).toBe(0);
      expect(await waitForCleanup(fx.home)).toBe(true);
      expect(byContent(), `the safety backup after a kill at ${step} restores the old state`).toEqual(old);
    }
  }, 600_000);
});
