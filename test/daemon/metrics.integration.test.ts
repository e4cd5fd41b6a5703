import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../../src/home/config.js';
import { REPO_ROOT } from '../support/cli.js';
import { makeHome, startDaemon, type ApiClient, type TestHome } from './support.js';

const ALERTS_FILE = join(REPO_ROOT, 'deploy', 'prometheus', 'hoziron-alerts.yml');

/**
 * A strict reading of the Prometheus text format (0.0.4): HELP and TYPE lines, then samples
 * `name{label="value",…} number`, every sample in a family that was TYPEd, no line of any
 * other shape. Returns the samples.
 */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(m[3]);
        expect(types.has(m[2]!), `TYPE twice for ${m[2]}`).toBe(false);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*",?)*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labelText, valueText] = m!;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText === 'NaN' ? NaN : Number(valueText);
    expect(Number.isNaN(value) && valueText !== 'NaN', `bad value in ${line}`).toBe(false);
    const family = [...types.keys()].find((f) => name === f || new RegExp(`^${f}_(bucket|sum|count|total|created)$`).test(name!));
    expect(family, `sample of a family with no TYPE: ${line}`).toBeDefined();
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: name!, labels, value });
  }
  return samples;
}

describe('GET /metrics', () => {
  let t: TestHome;
  let api: ApiClient;

  beforeAll(async () => {
    t = makeHome();
    api = await startDaemon(t);
  });
  afterAll(async () => t?.cleanup());

  async function scrape(token?: string): Promise<{ status: number; text: string; type: string | null }> {
    const res = await fetch(`http://${api.address}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  }

  it('needs a viewer key by default', async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape(t.token('viewer'))).status).toBe(200);
  });

  it('reports API and CLI backups per trigger, storage, and HTTP durations by route pattern, in the text format', async () => {
    const created = await api.request<{ id: string; size_bytes: number }>('POST', '/v1/backup/create', { scope: 'full' });
    expect(created.status).toBe(200);
    expect((await api.request('GET', `/v1/backup/${created.body.id}`)).status).toBe(200);
    const cli = await t.cliAsync(['backup', 'create', '--agents-only', '--json']);
    expect(cli.code, cli.stderr).toBe(0);

    const { status, text, type } = await scrape(t.token('viewer'));
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(text);
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

    const now = Date.now() / 1000;
    for (const trigger of ['api', 'cli']) {
      expect(one('hoziron_backup_last_success_timestamp_seconds', { trigger })?.value).toBeGreaterThan(now - 120);
      expect(one('hoziron_backup_last_attempt_success', { trigger })?.value).toBe(1);
    }
    expect(one('hoziron_backup_duration_seconds_count', { trigger: 'api' })?.value).toBe(1);
    expect(one('hoziron_backup_size_bytes_sum', { trigger: 'api' })?.value).toBe(created.body.size_bytes);
    expect(one('hoziron_backup_size_bytes_count', { trigger: 'cli' })?.value).toBe(1);
    expect(one('hoziron_storage_backups', { scope: 'full' })?.value).toBe(1);
    expect(one('hoziron_storage_backups', { scope: 'agents' })?.value).toBe(1);
    expect(one('hoziron_storage_used_bytes')?.value).toBeGreaterThan(created.body.size_bytes);
    expect(one('hoziron_storage_size_bytes')?.value).toBeGreaterThan(0);
    expect(one('hoziron_restores_total')?.value).toBe(0);
    expect(one('process_resident_memory_bytes')?.value).toBeGreaterThan(0);

    const routes = new Set(samples.filter((s) => s.name === 'hoziron_http_request_duration_seconds_count').map((s) => s.labels.route));
    expect(routes).toContain('/v1/backup/create');
    expect(routes).toContain('/v1/backup/:id');
    expect([...routes].some((r) => r?.includes(created.body.id))).toBe(false);
  });

  it('exports every metric the alert rules use', async () => {
    const { text } = await scrape(t.adminToken);
    const doc = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    const used = new Set(doc.groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/hoziron_[a-z_]+/g) ?? [])));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  });

  it('answers without a key when [server] metrics_public = true', async () => {
    await t.cliAsync(['stop']);
    writeFileSync(t.home.config, readFileSync(t.home.config, 'utf8').replace(/^metrics_public = .*$/m, 'metrics_public = true'));
    api = await startDaemon(t);
    const { status, text } = await scrape();
    expect(status).toBe(200);
    // The earlier backups are still seen, through the audit trail.
    expect(text).toMatch(/^hoziron_backup_last_success_timestamp_seconds\{trigger="cli"\} \d/m);
  });

  it('refuses a metrics_public that is not a boolean, naming the key', () => {
    expect(() => validateConfig({ server: { metrics_public: 'yes' } }, 'config.toml', t.home)).toThrow(
      'config.toml: server.metrics_public: expected a boolean, found "yes"',
    );
  });
});
