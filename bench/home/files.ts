/**
 * The reference home's plain files: agent folders, memory files, skill packages and the
 * workflow/schedule/competency/integration files. Content comes from seeded generators
 * (one stream per kind), so the same seed writes the same bytes. The generator writes
 * straight to the final names without fsync: a home it did not finish is discarded, never
 * used, and durability of a benchmark fixture is not worth 20,000 fsyncs.
 */
import { chmodSync, closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { HomeLayout } from '../../src/home/layout.js';
import { agentId, type HomePlan } from './plan.js';
import { Prng } from './prng.js';
import { ChatText } from './text.js';

export interface Written {
  files: number;
  bytes: number;
}

/** A directory with an exact mode (mkdir applies the umask). */
export function makeDir(path: string, mode = 0o755): void {
  mkdirSync(path, { mode });
  chmodSync(path, mode);
}

class FileWriter {
  readonly written: Written = { files: 0, bytes: 0 };
  write(path: string, data: string | Buffer, mode = 0o644): void {
    writeFileSync(path, data, { mode, flag: 'wx' });
    chmodSync(path, mode); // exact mode whatever the umask
    this.written.files++;
    this.written.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }
}

const pad = (n: number, width = 4): string => String(n).padStart(width, '0');
const isoAt = (rng: Prng): string => new Date(Date.UTC(2025, 0, 1) + rng.int(0, 365 * 86_400) * 1000).toISOString();

export function writeAgents(home: HomeLayout, plan: HomePlan): Written {
  const rng = new Prng(plan.seed, 'agents');
  const text = new ChatText(rng, 500);
  const out = new FileWriter();
  for (let i = 0; i < plan.agents; i++) {
    const id = agentId(i);
    const dir = join(home.dataSubdir('agents'), id);
    makeDir(dir);
    const skills = Array.from({ length: rng.int(0, 4) }, () => `"skill-${pad(rng.int(0, plan.skillPackages - 1), 3)}"`);
    out.write(
      join(dir, 'agent.toml'),
      [
        `id = "${id}"`,
        `name = "${text.phrase(2)}"`,
        `description = "${text.sentence().replace(/"/g, '')}"`,
        `model = "${rng.pick(['gpt-4.1', 'claude-sonnet', 'llama-3-70b', 'mistral-large'])}"`,
        `temperature = ${(rng.int(0, 10) / 10).toFixed(1)}`,
        `max_tokens = ${rng.pick([1024, 2048, 4096, 8192])}`,
        `skills = [${skills.join(', ')}]`,
        '',
        '[memory]',
        `enabled = ${i < plan.memoryAgents}`,
        `retention_days = ${rng.int(7, 365)}`,
        '',
        '[prompt]',
        `system = """\n${text.message(rng.int(200, 900))}\n"""`,
        '',
      ].join('\n'),
    );
    const state = {
      id,
      status: rng.pick(['running', 'idle', 'stopped', 'paused']),
      created_at: isoAt(rng),
      last_started_at: isoAt(rng),
      runs: rng.int(0, 50_000),
      failures: rng.int(0, 40),
      version: rng.int(1, 30),
    };
    out.write(join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  }
  return out.written;
}

const MEMORY_KINDS = ['episode', 'fact', 'note', 'preference', 'summary'];

export function writeMemoryFiles(home: HomeLayout, plan: HomePlan): Written {
  const rng = new Prng(plan.seed, 'memory-files');
  const text = new ChatText(rng, 5_000);
  const out = new FileWriter();
  const perAgent = Math.ceil(plan.memoryFiles / plan.memoryAgents);
  let left = plan.memoryFiles;
  for (let a = 0; a < plan.memoryAgents && left > 0; a++) {
    const id = agentId(a);
    const dir = join(home.dataSubdir('memory'), id);
    makeDir(dir);
    for (let f = 0; f < perAgent && left > 0; f++, left--) {
      const kind = rng.pick(MEMORY_KINDS);
      const body = text.message(rng.int(150, 1800));
      out.write(join(dir, `${kind}-${pad(f)}.md`), `---\nagent: ${id}\nkind: ${kind}\ncreated: ${isoAt(rng)}\n---\n${body}\n`);
    }
  }
  return out.written;
}

/** Skill packages: pseudo-random bytes, as incompressible as real compressed packages. */
export function writeSkills(home: HomeLayout, plan: HomePlan): Written {
  const rng = new Prng(plan.seed, 'skills');
  const out: Written = { files: 0, bytes: 0 };
  const chunk = Buffer.allocUnsafeSlow(Math.min(plan.skillPackageBytes, 1024 * 1024));
  for (let s = 0; s < plan.skillPackages; s++) {
    const path = join(home.dataSubdir('skills'), `skill-${pad(s, 3)}-1.${rng.int(0, 9)}.${rng.int(0, 20)}.tar.gz`);
    const fd = openSync(path, 'wx', 0o644);
    try {
      chmodSync(path, 0o644);
      for (let left = plan.skillPackageBytes; left > 0;) {
        const n = Math.min(left, chunk.length);
        rng.fill(chunk);
        writeSync(fd, chunk, 0, n);
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    out.files++;
    out.bytes += plan.skillPackageBytes;
  }
  return out;
}

/** Workflows (JSON), schedules (TOML), competencies (Markdown) and integrations (TOML). */
export function writeOtherData(home: HomeLayout, plan: HomePlan): Written {
  const rng = new Prng(plan.seed, 'other-data');
  const text = new ChatText(rng, 1_000);
  const out = new FileWriter();
  for (let i = 0; i < plan.workflows; i++) {
    const steps = Array.from({ length: rng.int(2, 12) }, (_, n) => ({
      id: `step-${n + 1}`,
      agent: agentId(rng.int(0, plan.agents - 1)),
      action: rng.pick(['summarise', 'classify', 'fetch', 'draft', 'review', 'notify']),
      prompt: text.sentence(),
      timeout_s: rng.int(10, 600),
    }));
    const wf = { id: `workflow-${pad(i)}`, name: text.phrase(3), description: text.message(rng.int(80, 400)), steps };
    out.write(join(home.dataSubdir('workflows'), `workflow-${pad(i)}.json`), `${JSON.stringify(wf, null, 2)}\n`);
  }
  for (let i = 0; i < plan.schedules; i++) {
    out.write(
      join(home.dataSubdir('schedules'), `schedule-${pad(i)}.toml`),
      `id = "schedule-${pad(i)}"\nworkflow = "workflow-${pad(rng.int(0, plan.workflows - 1))}"\n` +
        `cron = "${rng.int(0, 59)} ${rng.int(0, 23)} * * ${rng.pick(['*', '1-5', '0', '6'])}"\nenabled = ${rng.chance(0.8)}\n` +
        `description = "${text.sentence().replace(/"/g, '')}"\n`,
    );
  }
  for (let i = 0; i < plan.competencies; i++) {
    out.write(
      join(home.dataSubdir('competencies'), `competency-${pad(i)}.md`),
      `# ${text.phrase(3)}\n\n${text.message(rng.int(300, 2500))}\n`,
    );
  }
  for (let i = 0; i < plan.integrations; i++) {
    out.write(
      join(home.dataSubdir('integrations'), `integration-${pad(i)}.toml`),
      `id = "integration-${pad(i)}"\nkind = "${rng.pick(['slack', 'github', 'jira', 'gmail', 'postgres', 's3', 'webhook'])}"\n` +
        `enabled = ${rng.chance(0.7)}\nsecret_env = "INTEGRATION_${pad(i)}_TOKEN"\n` +
        `poll_interval_s = ${rng.int(30, 3600)}\nnote = "${text.sentence().replace(/"/g, '')}"\n`,
    );
  }
  return out.written;
}

/** `.env` (0600): fake secrets from the seeded generator, one per integration. */
export function writeEnv(home: HomeLayout, plan: HomePlan): Written {
  const rng = new Prng(plan.seed, 'env');
  const lines = ['# Secrets for the reference home (generated, not real).', `OPENAI_API_KEY=sk-bench-${rng.hex(40)}`];
  for (let i = 0; i < plan.integrations; i++) lines.push(`INTEGRATION_${pad(i)}_TOKEN=${rng.hex(32)}`);
  const out = new FileWriter();
  out.write(home.env, `${lines.join('\n')}\n`, 0o600);
  return out.written;
}
