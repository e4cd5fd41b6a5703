import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { generateReferenceHome, type GenerateSummary } from '../../bench/home/generate.js';
import { mutateHome } from '../../bench/home/mutate.js';
import { planHome } from '../../bench/home/plan.js';
import { AuditLog } from '../../src/stores/audit.js';
import { integrityCheck } from '../../src/stores/sqlite.js';
import { loadConfig } from '../../src/home/config.js';
import { DATA_DIRS, DATABASES, HOME_FILES, HomeLayout } from '../../src/home/layout.js';
import { REPO_ROOT, runCli, tempDir } from '../support/cli.js';

const SCALE = 0.002;

/** Every regular file under `root`, home-relative and sorted, with its SHA-256. */
function hashTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const entries = readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const p of entries) out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
  return out;
}

const mode = (p: string): number => statSync(p).mode & 0o777;

describe('reference-home generator', () => {
  const tmp = tempDir('hoziron-bench-');
  let a: GenerateSummary;
  let b: GenerateSummary;

  beforeAll(async () => {
    a = await generateReferenceHome(join(tmp.dir, 'a'), { scale: SCALE, seed: 7 });
    b = await generateReferenceHome(join(tmp.dir, 'b'), { scale: SCALE, seed: 7 });
  });
  afterAll(() => tmp.cleanup());

  it('writes the same files with the same bytes for the same seed (keys.db tokens aside)', () => {
    const ha = hashTree(a.home);
    const hb = hashTree(b.home);
    expect([...ha.keys()]).toEqual([...hb.keys()]);
    for (const [path, hash] of ha) {
      if (path === HOME_FILES.keys) continue; // random API tokens, by design
      expect(hb.get(path), path).toBe(hash);
    }
    expect(a.audit_head).toBe(b.audit_head);
  });

  it('writes different content for a different seed', async () => {
    const c = await generateReferenceHome(join(tmp.dir, 'c'), { scale: SCALE, seed: 8 });
    const ha = hashTree(a.home);
    const hc = hashTree(c.home);
    expect(hc.get(HOME_FILES.memory)).not.toBe(ha.get(HOME_FILES.memory));
    expect(c.audit_head).not.toBe(a.audit_head);
  });

  it('lays the home out as the README says, with the modes it asks for', () => {
    const home = new HomeLayout(a.home);
    for (const f of Object.values(HOME_FILES)) expect(statSync(home.path(f)).isFile(), f).toBe(true);
    for (const d of DATA_DIRS) expect(statSync(home.dataSubdir(d)).isDirectory(), d).toBe(true);
    expect(mode(home.env)).toBe(0o600);
    expect(mode(home.keysDb)).toBe(0o600);
    expect(mode(home.defaultStorage)).toBe(0o700);
    expect(readdirSync(home.defaultStorage)).toEqual([]);
    const cfg = loadConfig(home);
    expect(cfg.warnings).toEqual([]);
    const plan = planHome(SCALE, 7);
    const agents = readdirSync(home.dataSubdir('agents'));
    expect(agents).toHaveLength(plan.agents);
    for (const id of agents) {
      expect(readdirSync(join(home.dataSubdir('agents'), id)).sort()).toEqual(['agent.toml', 'state.json']);
      JSON.parse(readFileSync(join(home.dataSubdir('agents'), id, 'state.json'), 'utf8'));
    }
    const memoryFiles = readdirSync(home.dataSubdir('memory'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(memoryFiles).toHaveLength(plan.memoryFiles);
    expect(readdirSync(home.dataSubdir('skills'))).toHaveLength(plan.skillPackages);
    for (const d of ['workflows', 'schedules', 'competencies', 'integrations'] as const) {
      expect(readdirSync(home.dataSubdir(d)).length, d).toBeGreaterThan(0);
    }
  });

  it('is a home that `hoziron doctor` finds sound, without a warning', () => {
    const r = runCli(['doctor', '--home', a.home, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { summary: { ok: number; warn: number; fail: number }; checks: unknown[] };
    expect(report.summary.fail, r.stdout).toBe(0);
    // Free disk space may warn on a crowded machine; a generated home has no daemon running
    // and no backup yet, which doctor warns about too; nothing else may.
    const expected = ['disk space', 'daemon', 'newest backup'];
    const warnings = (report.checks as { check: string; status: string }[]).filter((c) => c.status !== 'ok' && !expected.includes(c.check));
    expect(warnings, r.stdout).toEqual([]);
  });

  it('writes an audit log whose chain verifies from genesis', () => {
    const report = AuditLog.verifyFile(new HomeLayout(a.home).auditDb);
    expect(report.ok).toBe(true);
    expect(report.count).toBe(a.audit_events);
    expect(report.head?.hash).toBe(a.audit_head);
  });

  it('writes databases that pass integrity_check, in WAL mode, with their schema version', () => {
    const home = new HomeLayout(a.home);
    for (const rel of DATABASES) {
      expect(integrityCheck(home.path(rel)), rel).toEqual([]);
      const db = new Database(home.path(rel), { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true }), rel).toBe('wal');
        expect(db.pragma('user_version', { simple: true }), rel).toBeGreaterThan(0);
      } finally {
        db.close();
      }
    }
    const db = new Database(home.memoryDb, { readonly: true });
    try {
      const row = db.prepare('SELECT count(*) AS n, count(DISTINCT content) AS distinct_n FROM session_messages').get() as {
        n: number;
        distinct_n: number;
      };
      expect(row.n).toBe(a.messages);
      expect(row.distinct_n).toBe(row.n); // realistic text, not one row repeated
    } finally {
      db.close();
    }
  });

  it('scales the sizes roughly as asked', async () => {
    const double = await generateReferenceHome(join(tmp.dir, 'double'), { scale: SCALE * 2, seed: 7 });
    for (const [summary, scale] of [
      [a, SCALE],
      [double, SCALE * 2],
    ] as const) {
      const plan = planHome(scale, 7);
      const home = new HomeLayout(summary.home);
      const memoryDb = statSync(home.memoryDb).size;
      expect(memoryDb).toBeGreaterThanOrEqual(plan.memoryDbBytes);
      expect(memoryDb).toBeLessThan(plan.memoryDbBytes * 1.25);
      const audit = statSync(home.auditDb).size;
      expect(audit).toBeGreaterThanOrEqual(plan.auditDbBytes);
      expect(audit).toBeLessThan(plan.auditDbBytes * 1.25);
      const skills = readdirSync(home.dataSubdir('skills')).reduce((n, f) => n + statSync(join(home.dataSubdir('skills'), f)).size, 0);
      expect(skills).toBe(plan.skillPackages * plan.skillPackageBytes);
    }
    expect(double.bytes / a.bytes).toBeGreaterThan(1.6);
    expect(double.bytes / a.bytes).toBeLessThan(2.4);
  });

  it('refuses a non-empty output directory unless --force, and never deletes a non-home', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'make-home.js'), '--quiet', '--scale', String(SCALE), ...args], {
        encoding: 'utf8',
      });
    const refused = run(['--out', a.home]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error: .* exists and is not empty/m);
    expect(refused.stderr).toMatch(/^hint: .*--force/m);

    const other = join(tmp.dir, 'not-a-home');
    mkdirSync(other);
    writeFileSync(join(other, 'precious.txt'), 'keep me');
    const kept = run(['--out', other, '--force']);
    expect(kept.status).toBe(1);
    expect(readFileSync(join(other, 'precious.txt'), 'utf8')).toBe('keep me');

    const replaced = run(['--out', a.home, '--force', '--seed', '7']);
    expect(replaced.status, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/files, .* in [\d.]+s/);
    expect(hashTree(a.home).get(HOME_FILES.memory)).toBe(hashTree(b.home).get(HOME_FILES.memory));

    expect(run(['--out', join(tmp.dir, 'x'), '--scale', '-1']).status).toBe(2);
  });

  it('makes the same small change for the same seed and step: 1 % of the files and some rows, the databases still sound', async () => {
    const x = await generateReferenceHome(join(tmp.dir, 'mx'), { scale: SCALE, seed: 9 });
    const y = await generateReferenceHome(join(tmp.dir, 'my'), { scale: SCALE, seed: 9 });
    const before = hashTree(x.home);
    const mx = mutateHome(x.home, 9, 1, SCALE);
    const my = mutateHome(y.home, 9, 1, SCALE);
    expect(mx).toEqual(my);
    const hx = hashTree(x.home);
    const hy = hashTree(y.home);
    const changed = [...hx].filter(([p, h]) => before.get(p) !== h).map(([p]) => p);
    const dataFiles = [...before.keys()].filter((p) => p.startsWith('data/') && p !== HOME_FILES.memory).length;
    expect(changed).toContain(HOME_FILES.memory);
    expect(changed.filter((p) => p !== HOME_FILES.memory)).toHaveLength(Math.max(1, Math.round(dataFiles * 0.01)));
    for (const p of changed) if (p !== HOME_FILES.memory) expect(hy.get(p), p).toBe(hx.get(p));
    expect(integrityCheck(new HomeLayout(x.home).memoryDb)).toEqual([]);
    // A later step is another change.
    mutateHome(x.home, 9, 2, SCALE);
    expect([...hashTree(x.home)].filter(([p, h]) => hx.get(p) !== h).length).toBeGreaterThan(1);
  });
});
