/**
 * deploy/prometheus/hoziron-alerts.yml loads as Prometheus rule groups: every rule has an
 * alert name, an expression, a `for`, a severity label and a summary, and the three alerts
 * the runbook promises are there. (That each metric the rules use is exported is checked
 * against a real scrape in test/daemon/metrics.integration.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/cli.js';

const ALERTS_FILE = join(REPO_ROOT, 'deploy', 'prometheus', 'hoziron-alerts.yml');

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

function rules(): Rule[] {
  const doc = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  expect(Array.isArray(doc.groups)).toBe(true);
  return doc.groups.flatMap((g) => {
    expect(typeof g.name).toBe('string');
    return g.rules;
  });
}

describe('the Prometheus alert rules', () => {
  it('give every rule an alert, an expression, a duration, a severity and a summary', () => {
    for (const r of rules()) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(typeof r.expr).toBe('string');
      expect(r.for).toMatch(/^\d+[smhd]$/);
      expect(['warning', 'critical']).toContain(r.labels?.severity);
      expect(typeof r.annotations?.summary).toBe('string');
    }
  });

  it('alert on no successful backup in 26 h, a failed last backup and storage over 90 %', () => {
    const byName = new Map(rules().map((r) => [r.alert, String(r.expr)]));
    expect(byName.get('HozironNoRecentBackup')).toMatch(/hoziron_backup_last_success_timestamp_seconds.*> 26 \* 3600/);
    expect(byName.get('HozironLastBackupFailed')).toMatch(/hoziron_backup_last_attempt_success == 0/);
    expect(byName.get('HozironStorageAlmostFull')).toMatch(/> 0\.9$/);
  });
});
