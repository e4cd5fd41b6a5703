/**
 * Test support for the daemon: a fresh home listening on a free loopback port (port 0; the
 * bound address is read from the pid file), its admin token, extra keys of weaker roles,
 * and a small fetch-based client. The daemon is the real `bin/hoziron start`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HomeLayout } from '../../src/home/layout.js';
import { KeyStore } from '../../src/stores/keys.js';
import { runCli, runCliAsync, tempDir, type CliResult } from '../support/cli.js';

export interface TestHome {
  /** The temporary directory holding the home (for files outside it). */
  root: string;
  /** The home directory. */
  dir: string;
  home: HomeLayout;
  adminToken: string;
  cli: (args: string[]) => CliResult;
  cliAsync: (args: string[], env?: Record<string, string>) => Promise<CliResult>;
  /** Run the CLI without blocking the test worker (spawnSync would stall vitest's RPC). */
  /** Mint a key of a role directly in keys.db (the daemon reads it on each request). */
  token: (role: 'viewer' | 'operator' | 'admin') => string;
  cleanup: () => Promise<void>;
}

/** `hoziron init` a temporary home listening on 127.0.0.1:0, with `backupToml` lines added to [backup]. */
export function makeHome(backupToml: string[] = []): TestHome {
  const t = tempDir('hoziron-daemon-');
  const dir = join(t.dir, 'home');
  const init = runCli(['--home', dir, 'init', '--json']);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const adminToken = (JSON.parse(init.stdout) as { admin_key: { token: string } }).admin_key.token;
  const home = new HomeLayout(dir);
  let config = readFileSync(home.config, 'utf8').replace(/^listen = .*$/m, 'listen = "127.0.0.1:0"');
  for (const line of backupToml) {
    const key = line.split('=')[0]!.trim();
    config = config.replace(new RegExp(`^${key} = .*$`, 'm'), line);
  }
  writeFileSync(home.config, config);
  const cli = (args: string[]) => runCli(['--home', dir, ...args]);
  const cliAsync = (args: string[], env?: Record<string, string>) => runCliAsync(['--home', dir, ...args], { env });
  const token = (role: 'viewer' | 'operator' | 'admin') => {
    const keys = KeyStore.open(home.keysDb);
    try {
      return keys.create(role, `test ${role}`).token;
    } finally {
      keys.close();
    }
  };
  const cleanup = async () => {
    await cliAsync(['stop', '--timeout', '60']);
    t.cleanup();
  };
  return { root: t.dir, dir, home, adminToken, cli, cliAsync, token, cleanup };
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  constructor(
    readonly address: string,
    private readonly token?: string,
  ) {}

  withToken(token: string | undefined): ApiClient {
    return new ApiClient(this.address, token);
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, raw?: { body: string; type?: string }): Promise<Answer<T>> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (raw) {
      payload = raw.body;
      headers['content-type'] = raw.type ?? 'application/json';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`http://${this.address}${path}`, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  }
}

/** Start the daemon of `t` in the background (`env` added to its environment); returns a client holding the admin token. */
export async function startDaemon(t: TestHome, env?: Record<string, string>): Promise<ApiClient> {
  const r = await t.cliAsync(['start', '--json'], env);
  if (r.code !== 0) throw new Error(`start failed: ${r.stderr}`);
  const { address } = JSON.parse(r.stdout) as { address: string };
  return new ApiClient(address, t.adminToken);
}
