/**
 * Test support: run the real `bin/hoziron` in a temporary home. Every integration test
 * goes through here so that what is tested is what an operator runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(REPO_ROOT, 'bin', 'hoziron');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for a child: no inherited HOZIRON_* settings, debug off. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HOZIRON_')) delete env[k];
  return { ...env, ...extra };
}

/** Run `hoziron <args>` synchronously and capture its output. */
export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: childEnv(opts.env),
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run `hoziron <args>` asynchronously (for long commands run beside other work). */
export function runCliAsync(args: string[], opts: { env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(opts.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** A fresh temporary directory; removed by the returned cleanup. */
export function tempDir(prefix = 'hoziron-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The compiled module (`dist/`, built by `npm test`) of a source file under `src/`, for code
 * that starts worker threads: a worker runs the compiled `.js` beside its module, which
 * exists only in `dist/`. Type it with `typeof import('../../src/...')`.
 */
export async function importBuilt<T>(srcPath: string): Promise<T> {
  const url = pathToFileURL(join(REPO_ROOT, 'dist', srcPath.replace(/\.ts$/, '.js'))).href;
  return (await import(url)) as T;
}
