/**
 * The Deployment's probes reach the daemon on the pod address. A network namespace made
 * here plays the pod: the init container's script and then the real daemon (`bin/hoziron
 * start`) run inside it with the Deployment's own environment (HOZIRON_LISTEN), and the
 * probe's GET comes from the other side of a veth pair, as the kubelet's does. Inside the
 * pod, `status`, `health` and `doctor` keep working (they read the bound address from the
 * pid file). Needs root and `ip` (iproute2; .ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCliAsync, tempDir } from '../support/cli.js';
import { daemonContainer, find, loadManifests, type Container, type K8sObject } from './manifests.js';

const objects = loadManifests();
const { container, probePort } = daemonContainer(objects);
const podEnv = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));

// Names and a /30 unique to this run; the namespace is ours alone, so the port is free.
const tag = `${process.pid % 100000}`;
const NETNS = `hzprobe${tag}`;
const VETH_HOST = `hzph${tag}`;
const VETH_POD = `hzpp${tag}`;
const octet = 1 + (process.pid % 250);
const HOST_IP = `10.213.${octet}.1`;
const POD_IP = `10.213.${octet}.2`;

let dir: string;
let cleanup: () => void;
let home: string;
let pathDir: string;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** The pod's environment: the Deployment's env with this test's home, hoziron on PATH. */
function inPodEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOZIRON_')) env[k] = v;
  return { ...env, ...podEnv, HOZIRON_HOME: home, PATH: `${pathDir}:${process.env.PATH ?? ''}` };
}

/** Run a command inside the pod's network namespace. */
function inPod(cmd: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', NETNS, ...cmd], { encoding: 'utf8', env: inPodEnv(), timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  ({ dir, cleanup } = tempDir('hoziron-probe-'));
  home = join(dir, 'data', 'hoziron');
  pathDir = join(dir, 'bin');
  mkdirSync(pathDir);
  symlinkSync(BIN, join(pathDir, 'hoziron'));
  ip('netns', 'add', NETNS);
  ip('link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_POD);
  ip('link', 'set', VETH_POD, 'netns', NETNS);
  ip('addr', 'add', `${HOST_IP}/30`, 'dev', VETH_HOST);
  ip('link', 'set', VETH_HOST, 'up');
  ip('-n', NETNS, 'addr', 'add', `${POD_IP}/30`, 'dev', VETH_POD);
  ip('-n', NETNS, 'link', 'set', VETH_POD, 'up');
  ip('-n', NETNS, 'link', 'set', 'lo', 'up');
});

afterAll(() => {
  if (home) inPod(['hoziron', 'stop']);
  spawnSync('ip', ['netns', 'del', NETNS]); // takes the veth pair with it
  spawnSync('ip', ['link', 'del', VETH_HOST]);
  cleanup?.();
});

describe('the Deployment on a pod address', () => {
  it("runs the init container's script: a home with the daemon's schedule off", () => {
    const deployment = find(objects, 'Deployment', 'hoziron') as K8sObject & {
      spec: { template: { spec: { initContainers: (Container & { command: string[] })[] } } };
    };
    const init = deployment.spec.template.spec.initContainers.find((c) => c.name === 'init')!;
    const r = inPod([...init.command, ...(init.args ?? [])]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(home, 'config.toml'), 'utf8')).toMatch(/^schedule = ""$/m);
    // Run again (every pod start does): still a valid home, nothing else changed.
    expect(inPod([...init.command, ...(init.args ?? [])]).code).toBe(0);
  });

  it('starts the daemon with the Deployment environment, listening on all addresses', () => {
    const r = inPod(['hoziron', ...(container.args ?? []).filter((a) => a !== '--foreground'), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { address: string }).address).toBe(podEnv.HOZIRON_LISTEN);
  });

  it('answers the readiness and liveness probes from the other side of the veth', async () => {
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      const res = await fetch(`http://${POD_IP}:${probePort}${probe!.httpGet!.path}`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('ok');
    }
  });

  it('keeps status, health and doctor working inside the pod', () => {
    const status = inPod(['hoziron', 'status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, address: podEnv.HOZIRON_LISTEN });
    const health = inPod(['hoziron', 'health', '--json']);
    expect(health.stderr).toBe('');
    expect(health.code).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ok', address: podEnv.HOZIRON_LISTEN });
    const doctor = inPod(['hoziron', 'doctor', '--json']);
    expect(doctor.code).toBe(0);
  });

  it('is not reachable there when HOZIRON_LISTEN is not set (the bug this fixes)', async () => {
    const stop = inPod(['hoziron', 'stop']);
    expect(stop.code).toBe(0);
    const env = { ...inPodEnv(), HOZIRON_LISTEN: '' };
    const r = spawnSync('ip', ['netns', 'exec', NETNS, 'hoziron', 'start', '--json'], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { address: string }).address).toMatch(/^127\.0\.0\.1:/);
    await expect(fetch(`http://${POD_IP}:${probePort}/v1/health`, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
  });
});

describe('a bad HOZIRON_LISTEN', () => {
  it('is refused with one line naming the variable, and changes nothing', async () => {
    const { dir: d, cleanup: c } = tempDir();
    try {
      const h = join(d, 'home');
      expect((await runCliAsync(['--home', h, 'init', '--json'])).code).toBe(0);
      const before = readFileSync(join(h, 'config.toml'), 'utf8');
      const r = await runCliAsync(['--home', h, 'start'], { env: { HOZIRON_LISTEN: 'all-interfaces' } });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toBe('error: HOZIRON_LISTEN: expected host:port, found "all-interfaces"');
      expect(r.stderr).toMatch(/^hint: .*HOZIRON_LISTEN/m);
      expect(existsSync(join(h, 'run', 'hoziron.pid'))).toBe(false);
      expect(readFileSync(join(h, 'config.toml'), 'utf8')).toBe(before);
    } finally {
      c();
    }
  });
});
