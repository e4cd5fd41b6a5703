/**
 * The Dockerfile, checked without a Docker engine (there is none where the tests run): it
 * passes a Dockerfile linter (dockerfile-utils, the checks behind the VS Code Docker
 * language server), everything it copies from the context is in the repository and let
 * through by .dockerignore, the runtime stage is non-root under tini running the daemon in
 * the foreground, and the files the runtime stage gets are enough to run bin/hoziron.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../support/cli.js';

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage (the image that runs). */
function finalStage(): { op: string; args: string }[] {
  const all = instructions(DOCKERFILE);
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

/** Whether .dockerignore (an allowlist: `*` then `!path` lines) lets `path` into the context. */
function allowedByDockerignore(path: string): boolean {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  expect(lines[0]).toBe('*');
  const allowed = lines.slice(1).map((l) => {
    expect(l.startsWith('!')).toBe(true);
    return l.slice(1).replace(/\/$/, '');
  });
  return allowed.some((a) => path === a || path.startsWith(`${a}/`));
}

describe('Dockerfile', () => {
  it('passes the Dockerfile linter without a diagnostic', () => {
    expect(validate(DOCKERFILE)).toEqual([]);
    // The linter is real: it finds a stage without FROM and an unknown instruction.
    expect(validate('RUN true\nCOPPY a b\n').length).toBeGreaterThan(0);
  });

  it('copies from the build context only what exists and .dockerignore lets in', () => {
    const copies = instructions(DOCKERFILE).filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
    const sources = copies.flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['package-lock.json', 'src', 'bin']));
    for (const s of sources) {
      expect(existsSync(join(REPO_ROOT, s)), s).toBe(true);
      expect(allowedByDockerignore(s), s).toBe(true);
    }
    // and keeps out what must never reach the image
    for (const kept of ['node_modules', 'dist', '.git', 'test', '.bench-cache']) expect(allowedByDockerignore(kept)).toBe(false);
  });

  it('builds with the dev dependencies and ships production ones only', () => {
    const runs = instructions(DOCKERFILE)
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args);
    expect(runs.some((r) => r.includes('npm ci --ignore-scripts'))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
    expect(runs.some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    const finalCopies = finalStage().filter((i) => i.op === 'COPY');
    expect(finalCopies.map((c) => c.args)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--from=deps .*node_modules/),
        expect.stringMatching(/^--from=build .*dist\/src/),
      ]),
    );
    expect(finalCopies.some((c) => /^--from=build .*node_modules/.test(c.args))).toBe(false);
  });

  it('runs the daemon in the foreground as a non-root user under tini, its home on a volume', () => {
    const stage = finalStage();
    const last = (op: string) => stage.filter((i) => i.op === op).at(-1)?.args;
    expect(last('USER')).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/); // numeric and not 0: runAsNonRoot can check it
    expect(JSON.parse(last('ENTRYPOINT')!)).toEqual(['/usr/bin/tini', '--', 'hoziron']);
    expect(JSON.parse(last('CMD')!)).toEqual(['start', '--foreground']);
    const env = stage.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/HOZIRON_HOME=\/data\/hoziron\b/);
    expect(env).toMatch(/HOZIRON_LISTEN=0\.0\.0\.0:\d+/);
    expect(JSON.parse(last('VOLUME')!)).toEqual(['/data']);
  });

  it('gives the runtime stage enough to run bin/hoziron (bin, dist/src, package.json, node_modules)', () => {
    // The same tree the runtime stage assembles under /opt/hoziron, from this checkout's build.
    const { dir, cleanup } = tempDir('hoziron-image-');
    try {
      mkdirSync(join(dir, 'dist'));
      cpSync(join(REPO_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      cpSync(join(REPO_ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
      cpSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
      const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'hoziron'), '--version'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(version.version);
    } finally {
      cleanup();
    }
  });
});
