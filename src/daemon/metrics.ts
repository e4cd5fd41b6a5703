/**
 * Prometheus metrics (`GET /metrics`, README.md#metrics). Backups are seen two ways: the
 * daemon's own attempts through `BackupRunner.observe` (successes and failures, with their
 * wall time), and every successful create — the CLI's too — through the audit trail's
 * `backup.create` events, read incrementally by sequence number at each scrape (the CLI
 * leaves no other trace the daemon could see; a failed CLI create leaves none at all). The
 * storage figures are read at scrape time from the catalog, like `GET /v1/backup/status`.
 * prom-client is imported when the daemon has started listening, not before, so it adds
 * nothing to the time until health answers.
 */
import { promises as fs } from 'node:fs';
import { remoteConfigured } from '../backup/remote-catalog.js';
import { readRemoteState } from '../backup/remote-state.js';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BackupTrigger } from '../api/daemon.js';
import { listBackups } from '../backup/catalog.js';
import { AuditLog, type AuditEvent } from '../stores/audit.js';
import type { BackupOutcome, BackupRunner } from './backup-runner.js';
import type { DaemonContext } from './context.js';

/** The triggers metrics are labelled with (a missed slot's catch-up counts as the schedule). */
type MetricsTrigger = 'schedule' | 'api' | 'shutdown' | 'cli';

const AUDIT_BATCH = 1000;

function fromRunner(t: BackupTrigger): MetricsTrigger {
  return t === 'missed-schedule' ? 'schedule' : t;
}

/** Who took a backup, from the actor of its `backup.create` event (see backup-runner.ts, cli/). */
function fromActor(actor: string): MetricsTrigger | undefined {
  if (actor === 'cli') return 'cli';
  if (actor.startsWith('api:')) return 'api';
  if (actor === 'daemon:schedule') return 'schedule';
  if (actor === 'daemon:shutdown') return 'shutdown';
  return undefined;
}

interface Instruments {
  registry: Registry;
  lastSuccess: Gauge;
  lastAttemptOk: Gauge;
  lastAttemptTime: Gauge;
  duration: Histogram;
  size: Histogram;
  failures: Counter;
  restores: Counter;
  backups: Gauge;
  storageUsed: Gauge;
  storageFree: Gauge;
  storageSize: Gauge;
  storageOk: Gauge;
  http: Histogram;
  remoteOk: Gauge;
  remoteLastSuccess: Gauge;
  remotePending: Gauge;
  remoteLag: Gauge;
}

async function makeInstruments(): Promise<Instruments> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const registers = [registry];
  prom.collectDefaultMetrics({ register: registry });
  const trigger = ['trigger'] as const;
  return {
    registry,
    lastSuccess: new prom.Gauge({
      name: 'hoziron_backup_last_success_timestamp_seconds',
      help: 'When the newest successful backup of each trigger was made (Unix time).',
      labelNames: trigger,
      registers,
    }),
    lastAttemptOk: new prom.Gauge({
      name: 'hoziron_backup_last_attempt_success',
      help: 'Whether the newest backup attempt of each trigger succeeded (1) or failed (0).',
      labelNames: trigger,
      registers,
    }),
    lastAttemptTime: new prom.Gauge({
      name: 'hoziron_backup_last_attempt_timestamp_seconds',
      help: 'When the newest backup attempt of each trigger started (Unix time).',
      labelNames: trigger,
      registers,
    }),
    duration: new prom.Histogram({
      name: 'hoziron_backup_duration_seconds',
      help: 'Wall time of successful backups.',
      labelNames: trigger,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
      registers,
    }),
    size: new prom.Histogram({
      name: 'hoziron_backup_size_bytes',
      help: 'Archive size of successful backups.',
      labelNames: trigger,
      buckets: prom.exponentialBuckets(1024 * 1024, 4, 10),
      registers,
    }),
    failures: new prom.Counter({
      name: 'hoziron_backup_failures_total',
      help: 'Failed backup attempts of the daemon since it started.',
      labelNames: trigger,
      registers,
    }),
    restores: new prom.Counter({
      name: 'hoziron_restores_total',
      help: 'Restores (CLI or API) recorded in the audit trail since the daemon started.',
      registers,
    }),
    backups: new prom.Gauge({
      name: 'hoziron_storage_backups',
      help: 'Backups in the storage path, by scope.',
      labelNames: ['scope'] as const,
      registers,
    }),
    storageUsed: new prom.Gauge({ name: 'hoziron_storage_used_bytes', help: 'Bytes of the archives in the storage path.', registers }),
    storageFree: new prom.Gauge({
      name: 'hoziron_storage_free_bytes',
      help: 'Bytes free for the daemon on the file system of the storage path.',
      registers,
    }),
    storageSize: new prom.Gauge({
      name: 'hoziron_storage_size_bytes',
      help: 'Size of the file system of the storage path.',
      registers,
    }),
    storageOk: new prom.Gauge({
      name: 'hoziron_storage_up',
      help: 'Whether the storage path could be listed at this scrape (1) or not (0).',
      registers,
    }),
    remoteOk: new prom.Gauge({
      name: 'hoziron_remote_last_upload_success',
      help: 'With [backup.remote]: whether the last upload attempt succeeded (1) or failed (0).',
      registers,
    }),
    remoteLastSuccess: new prom.Gauge({
      name: 'hoziron_remote_last_success_timestamp_seconds',
      help: 'With [backup.remote]: when an upload last succeeded.',
      registers,
    }),
    remotePending: new prom.Gauge({
      name: 'hoziron_remote_pending_uploads',
      help: 'With [backup.remote]: backups whose upload failed and waits for a retry.',
      registers,
    }),
    remoteLag: new prom.Gauge({
      name: 'hoziron_remote_upload_lag_seconds',
      help: 'With [backup.remote]: while uploads are pending, seconds since the last successful upload (0 when none is pending).',
      registers,
    }),
    http: new prom.Histogram({
      name: 'hoziron_http_request_duration_seconds',
      help: 'HTTP request durations by route pattern.',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
  };
}

export class DaemonMetrics {
  /** The newest audit sequence number read; undefined until the first scrape. */
  private auditSeq: number | undefined;
  private readonly lastSuccess = new Map<MetricsTrigger, number>();
  private readonly lastAttempt = new Map<MetricsTrigger, { at: number; ok: boolean }>();

  private constructor(
    private readonly ctx: DaemonContext,
    private readonly m: Instruments,
  ) {}

  static async create(ctx: DaemonContext, runner: BackupRunner): Promise<DaemonMetrics> {
    const metrics = new DaemonMetrics(ctx, await makeInstruments());
    const { last_attempt, last_success } = runner.state;
    if (last_success) metrics.noteSuccess(fromRunner(last_success.trigger), Date.parse(last_success.at));
    if (last_attempt) metrics.noteAttempt(fromRunner(last_attempt.trigger), Date.parse(last_attempt.at), last_attempt.ok);
    runner.observe((o) => metrics.onOutcome(o));
    return metrics;
  }

  get contentType(): string {
    return this.m.registry.contentType;
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.m.http.observe({ method, route, status: String(status) }, seconds);
  }

  /** The text exposition, after reading what changed since the last scrape. */
  async render(): Promise<string> {
    this.readAudit();
    await this.readStorage();
    this.readRemote();
    for (const [trigger, ms] of this.lastSuccess) this.m.lastSuccess.set({ trigger }, ms / 1000);
    for (const [trigger, a] of this.lastAttempt) {
      this.m.lastAttemptOk.set({ trigger }, a.ok ? 1 : 0);
      this.m.lastAttemptTime.set({ trigger }, a.at / 1000);
    }
    return this.m.registry.metrics();
  }

  private noteSuccess(trigger: MetricsTrigger, atMs: number): void {
    if (Number.isFinite(atMs) && atMs > (this.lastSuccess.get(trigger) ?? 0)) this.lastSuccess.set(trigger, atMs);
  }

  private noteAttempt(trigger: MetricsTrigger, atMs: number, ok: boolean): void {
    if (Number.isFinite(atMs) && atMs >= (this.lastAttempt.get(trigger)?.at ?? 0)) this.lastAttempt.set(trigger, { at: atMs, ok });
  }

  private onOutcome(o: BackupOutcome): void {
    const trigger = fromRunner(o.trigger);
    this.noteAttempt(trigger, o.startedMs, o.ok);
    if (!o.ok) {
      this.m.failures.inc({ trigger });
      return;
    }
    this.noteSuccess(trigger, o.startedMs);
    this.m.duration.observe({ trigger }, o.durationMs / 1000);
    if (o.record) this.m.size.observe({ trigger }, o.record.size_bytes);
  }

  /**
   * Read `backup.create` and `backup.restore` events after the last one read. The first read
   * goes through the whole trail for the newest success of each trigger; histograms and
   * counters only take events from after the daemon started (the daemon's own backups are
   * already observed by the runner, so only the CLI's feed the histograms here).
   */
  private readAudit(): void {
    let audit: AuditLog;
    try {
      audit = AuditLog.open(this.ctx.home.auditDb);
    } catch (err) {
      this.ctx.log.warn(`metrics: cannot read the audit trail: ${(err as Error).message}`);
      return;
    }
    try {
      const head = audit.head()?.seq ?? 0;
      // A restore put back an older trail: carry on from its end.
      if (this.auditSeq !== undefined && head < this.auditSeq) this.auditSeq = head;
      const since = this.ctx.startedAt.getTime();
      for (;;) {
        const batch = audit.eventsAfter(this.auditSeq ?? 0, ['backup.create', 'backup.restore'], AUDIT_BATCH);
        for (const e of batch) this.takeEvent(e, Date.parse(e.time) >= since);
        if (batch.length > 0) this.auditSeq = batch[batch.length - 1]!.seq;
        if (batch.length < AUDIT_BATCH) break;
      }
      this.auditSeq ??= head;
    } finally {
      audit.close();
    }
  }

  private takeEvent(e: AuditEvent, sinceStart: boolean): void {
    if (e.action === 'backup.restore') {
      if (sinceStart) this.m.restores.inc();
      return;
    }
    if (e.detail.scope === 'pre-restore') return;
    const trigger = fromActor(e.actor);
    if (!trigger) return;
    const at = Date.parse(e.time);
    this.noteSuccess(trigger, at);
    if (trigger !== 'cli') return;
    this.noteAttempt(trigger, at, true);
    if (sinceStart && typeof e.detail.size_bytes === 'number') this.m.size.observe({ trigger }, e.detail.size_bytes);
  }

  /** The upload state (run/remote-state.json), only with a remote configured. */
  private readRemote(): void {
    if (!remoteConfigured(this.ctx.cfg)) return;
    const s = readRemoteState(this.ctx.home);
    if (s.last_attempt) this.m.remoteOk.set(s.last_attempt.ok ? 1 : 0);
    const last = s.last_success ? Date.parse(s.last_success.at) : undefined;
    if (last !== undefined) this.m.remoteLastSuccess.set(last / 1000);
    this.m.remotePending.set(s.pending.length);
    const since = last ?? this.ctx.startedAt.getTime();
    this.m.remoteLag.set(s.pending.length > 0 ? Math.max(0, (Date.now() - since) / 1000) : 0);
  }

  private async readStorage(): Promise<void> {
    this.m.backups.reset();
    try {
      const records = await listBackups(this.ctx.cfg);
      const byScope = new Map<string, number>([
        ['full', 0],
        ['agents', 0],
        ['pre-restore', 0],
      ]);
      for (const r of records) byScope.set(r.scope, (byScope.get(r.scope) ?? 0) + 1);
      for (const [scope, n] of byScope) this.m.backups.set({ scope }, n);
      this.m.storageUsed.set(records.reduce((n, r) => n + r.size_bytes, 0));
      const st = await fs.statfs(this.ctx.cfg.storageDir);
      this.m.storageFree.set(Number(st.bavail) * Number(st.bsize));
      this.m.storageSize.set(Number(st.blocks) * Number(st.bsize));
      this.m.storageOk.set(1);
    } catch (err) {
      this.m.storageOk.set(0);
      this.ctx.log.warn(`metrics: cannot read the storage path: ${(err as Error).message}`);
    }
  }
}
