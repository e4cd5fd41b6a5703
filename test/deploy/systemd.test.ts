/**
 * The systemd units in deploy/systemd pass `systemd-analyze verify` against the install
 * layout that deploy/README.md gives (/opt/hoziron, with /usr/local/bin/hoziron linked to its
 * bin/hoziron). The check runs in a temporary root (`--root`) holding that layout and a copy
 * of the system's units, so nothing is installed on this machine.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../support/cli.js';

const UNITS_DIR = join(REPO_ROOT, 'deploy', 'systemd');
const UNITS = readdirSync(UNITS_DIR).filter((f) => /\.(service|timer)$/.test(f));

let root: string;
let cleanup: () => void;

/** `systemd-analyze verify --root=<root>` of units installed in <root>/etc/systemd/system. */
function verify(units: string[]): { code: number; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...units.map((u) => `/etc/systemd/system/${u}`)], {
    encoding: 'utf8',
  });
  if (r.error) throw r.error; // systemd-analyze missing: .ci/run installs it (package systemd)
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}`.trim() };
}

beforeAll(() => {
  ({ dir: root, cleanup } = tempDir('hoziron-systemd-'));
  // The install of deploy/README.md: the repository at /opt/hoziron, a symlink on PATH.
  const opt = join(root, 'opt', 'hoziron');
  mkdirSync(join(opt, 'bin'), { recursive: true });
  mkdirSync(join(opt, 'deploy', 'systemd'), { recursive: true });
  copyFileSync(join(REPO_ROOT, 'bin', 'hoziron'), join(opt, 'bin', 'hoziron'));
  copyFileSync(join(UNITS_DIR, 'hoziron-offsite.sh'), join(opt, 'deploy', 'systemd', 'hoziron-offsite.sh'));
  chmodSync(join(opt, 'bin', 'hoziron'), 0o755);
  chmodSync(join(opt, 'deploy', 'systemd', 'hoziron-offsite.sh'), 0o755);
  mkdirSync(join(root, 'usr', 'local', 'bin'), { recursive: true });
  symlinkSync('/opt/hoziron/bin/hoziron', join(root, 'usr', 'local', 'bin', 'hoziron'));
  // The units our units depend on (network-online.target, timers.target, ...).
  mkdirSync(join(root, 'usr', 'lib', 'systemd'), { recursive: true });
  cpSync('/usr/lib/systemd/system', join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  for (const u of UNITS) copyFileSync(join(UNITS_DIR, u), join(root, 'etc', 'systemd', 'system', u));
});

afterAll(() => cleanup?.());

describe('deploy/systemd', () => {
  it('ships the daemon unit, the off-site service and its timer', () => {
    expect(UNITS.sort()).toEqual(['hoziron-offsite.service', 'hoziron-offsite.timer', 'hoziron.service']);
  });

  it('passes systemd-analyze verify with the documented install path, without a warning', () => {
    const r = verify(UNITS);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('fails verify when the executable is not where the unit says (the check is real)', () => {
    const link = join(root, 'usr', 'local', 'bin', 'hoziron');
    rmSync(link);
    try {
      const r = verify(['hoziron.service']);
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/\/usr\/local\/bin\/hoziron is not executable/);
    } finally {
      symlinkSync('/opt/hoziron/bin/hoziron', link);
    }
  });
});
