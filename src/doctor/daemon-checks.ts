/**
 * Doctor checks about the running service: whether the daemon answers, and whether the
 * newest backup is recent enough for the configured schedule (no older than two periods).
 * Both only read: the pid file, `GET /v1/health`, and the storage directory's listing.
 */
import { listBackups } from '../backup/catalog.js';
import { remoteConfigured } from '../backup/remote-catalog.js';
import { readRemoteState } from '../backup/remote-state.js';
import { describeAge, schedulePeriodMs } from '../backup/schedule-period.js';
import { fetchHealth } from '../api/client.js';
import { readDaemonStatus } from '../home/run.js';
import type { Remedy } from '../errors.js';
import type { DoctorCheck, Finding } from './doctor.js';

const ok = (message: string): Finding => ({ status: 'ok', message });
const warn = (message: string, remedy?: Remedy): Finding => ({ status: 'warn', message, ...(remedy ? { remedy } : {}) });
const fail = (message: string): Finding => ({ status: 'fail', message });

const daemonCheck: DoctorCheck = {
  name: 'daemon',
  run: async ({ home }) => {
    const s = readDaemonStatus(home);
    if (!s.running) return warn('not running', 'start_daemon');
    if (!s.address) return warn(`pid ${s.pid} holds the daemon lock but has not published its address yet (starting?)`);
    try {
      const h = await fetchHealth(s.address, 3000);
      const answers = `answers at http://${s.address} (pid ${h.pid}, ${h.status}, up ${h.uptime_seconds}s)`;
      if (h.status === 'degraded') return warn(`${answers}: ${(h.reasons ?? []).map((r) => r.message).join('; ')}`);
      return ok(answers);
    } catch {
      return fail(`the pid file says pid ${s.pid} runs at ${s.address}, but it does not answer GET /v1/health (see ${home.daemonLog})`);
    }
  },
};

const backupFreshnessCheck: DoctorCheck = {
  name: 'newest backup',
  run: async ({ cfg }) => {
    if (!cfg) return warn('not checked: the config did not load');
    const newest = (await listBackups(cfg)).find((r) => r.scope !== 'pre-restore');
    if (!newest) return warn(`no backup in ${cfg.storageDir} yet`, 'create_backup');
    const age = Date.now() - Date.parse(newest.created_at);
    const period = schedulePeriodMs(cfg.config.backup.schedule);
    if (period === undefined) return ok(`newest backup ${newest.id} is ${describeAge(age)} old (no schedule configured)`);
    if (age > 2 * period) {
      return warn(
        `newest backup ${newest.id} is ${describeAge(age)} old: more than two schedule periods (${describeAge(period)} each); is the daemon running its schedule?`,
      );
    }
    return ok(`newest backup ${newest.id} is ${describeAge(age)} old (schedule every ${describeAge(period)})`);
  },
};

/** `[backup.remote]`: how the uploads went (from run/remote-state.json; offline, the store is not asked). No line without a remote. */
const remoteCheck: DoctorCheck = {
  name: 'remote',
  run: ({ home, cfg }) => {
    if (!cfg || !remoteConfigured(cfg)) return [];
    const remote = cfg.config.backup.remote;
    const findings: Finding[] = [];
    if (remote.require_encryption && cfg.encryption.recipients.length === 0) {
      findings.push(
        warn(
          `${remote.url}: backup.remote.require_encryption is on but no recipient is configured, so every upload is refused; configure [backup.encryption] recipients`,
        ),
      );
    }
    const s = readRemoteState(home);
    if (s.last_attempt && !s.last_attempt.ok) {
      findings.push(
        warn(
          `${remote.url}: the last upload (${s.last_attempt.at}) failed: ${s.last_attempt.error ?? 'unknown error'}; ${s.pending.length} backup(s) wait to be uploaded${s.next_retry_at ? `, the daemon retries after ${s.next_retry_at}` : ''} (or run: hoziron backup push --all)`,
        ),
      );
    } else if (s.last_success) findings.push(ok(`${remote.url}: last upload ${s.last_success.file} at ${s.last_success.at}`));
    else if (findings.length === 0) findings.push(ok(`${remote.url}: configured; nothing uploaded yet`));
    return findings;
  },
};

export const DAEMON_CHECKS: DoctorCheck[] = [daemonCheck, backupFreshnessCheck, remoteCheck];
