/**
 * Owner records: who made a lock, a journal, a work area or a temporary file, and whether
 * that owner is still there (docs/operations.md#lock-files). A record names the host, the kernel's boot id, the
 * PID namespace, the pid and the process's start time; its heartbeat is the mtime of the file
 * that carries it, refreshed while the owner holds it (`heartbeat.ts`).
 *
 * The judgment: an owner on this host, boot and PID namespace (its *origin* is ours) is judged
 * by its process: gone, a zombie, or a pid now used by a process with another start time
 * (reuse, pid 1 included) → stale; the same process → alive. Anything we cannot see from
 * here (another container, pod or PID namespace, another boot, a record without a start
 * time) is judged by its heartbeat alone: stale once older than `STALE_AFTER_MS`. A pid that
 * is merely not visible from here never makes an owner stale.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, readlinkSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { errnoCode } from '../errors.js';
import { isProcessAlive } from './process.js';

/** How often a held record's heartbeat is refreshed. */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/**
 * A heartbeat older than this makes a record we cannot check by its process stale. Twelve
 * missed beats: long enough for a busy or briefly paused owner and for some clock skew between
 * hosts sharing a volume, short enough that a crashed pod blocks the next backup for minutes.
 */
export const STALE_AFTER_MS = 120_000;

export interface OwnerRecord {
  host: string;
  /** /proc/sys/kernel/random/boot_id ('' where there is none). */
  boot_id: string;
  /** readlink /proc/self/ns/pid, e.g. `pid:[4026531836]` ('' where there is none). */
  pid_ns: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot ('' when unknown). */
  start_time: string;
  started_at: string;
  /** Random: tells this record from any other made by the same process. */
  token: string;
}

interface Origin {
  host: string;
  bootId: string;
  pidNs: string;
  /** A short hash of host, boot and PID namespace, for names that cannot carry the record. */
  tag: string;
  /** Whether /proc shows this PID namespace, so that /proc/<pid> answers for our pids. */
  procIsOurs: boolean;
}

function readTrimmed(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** State letter and start time from /proc/<pid>/stat (the name may hold spaces and ')'). */
function parseStat(text: string): { pid: number; state: string; startTime: string } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const startTime = rest[19]; // field 22; rest[0] is field 3
  if (!rest[0] || !startTime) return undefined;
  return { pid: Number.parseInt(text, 10), state: rest[0], startTime };
}

let origin: Origin | undefined;

function ourOrigin(): Origin {
  if (origin) return origin;
  const host = hostname();
  const bootId = readTrimmed('/proc/sys/kernel/random/boot_id');
  let pidNs = '';
  try {
    pidNs = readlinkSync('/proc/self/ns/pid');
  } catch {
    /* not Linux: judged by host and pid alone where the record allows */
  }
  // A /proc mounted from another PID namespace numbers processes differently from ours.
  const self = parseStat(readTrimmed('/proc/self/stat'));
  const procIsOurs = self?.pid === process.pid;
  const tag = createHash('sha256').update(`${host}\n${bootId}\n${pidNs}`).digest('hex').slice(0, 12);
  origin = { host, bootId, pidNs, tag, procIsOurs };
  return origin;
}

/** The origin tag of this process (host, boot, PID namespace), as temporary names carry it. */
export function originTag(): string {
  return ourOrigin().tag;
}

type Probe = { running: false } | { running: true; startTime: string | undefined };

/** Whether `pid` runs here, and since when (undefined when /proc cannot tell). */
function probeProcess(pid: number): Probe {
  if (ourOrigin().procIsOurs) {
    const stat = parseStat(readTrimmed(`/proc/${pid}/stat`));
    if (stat) return stat.state === 'Z' || stat.state === 'X' ? { running: false } : { running: true, startTime: stat.startTime };
  }
  // No /proc entry (hidepid, not Linux): kill(0) still tells whether the pid is in use.
  return isProcessAlive(pid) ? { running: true, startTime: undefined } : { running: false };
}

let selfStart: string | undefined;

function ownStartTime(): string {
  selfStart ??= parseStat(readTrimmed('/proc/self/stat'))?.startTime ?? '';
  return selfStart;
}

/** The start time of this process, as temporary names carry it ('0' when unknown). */
export function ownStartTag(): string {
  return ownStartTime() || '0';
}

/** A new record naming this process. */
export function makeOwner(): OwnerRecord {
  const o = ourOrigin();
  return {
    host: o.host,
    boot_id: o.bootId,
    pid_ns: o.pidNs,
    pid: process.pid,
    start_time: ownStartTime(),
    started_at: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
}

/** A record naming `pid`, a child of this process (same host, boot and namespace). */
export function ownerOfChild(pid: number): OwnerRecord {
  const probe = probeProcess(pid);
  return { ...makeOwner(), pid, start_time: (probe.running && probe.startTime) || '' };
}

/** The fields of a record found on disk; tolerant of older formats (`{pid}` or a bare pid). */
export function parseOwner(value: unknown): Partial<OwnerRecord> {
  if (typeof value === 'number') return Number.isInteger(value) ? { pid: value } : {};
  if (typeof value !== 'object' || value === null) return {};
  const v = value as Record<string, unknown>;
  const out: Partial<OwnerRecord> = {};
  for (const k of ['host', 'boot_id', 'pid_ns', 'start_time', 'started_at', 'token'] as const) {
    if (typeof v[k] === 'string') out[k] = v[k];
  }
  if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0) out.pid = v.pid;
  return out;
}

/** What a judgment needs: the origin tag (undefined: unknown), pid and start time. */
export interface OwnerIdentity {
  origin: string | undefined;
  pid: number | undefined;
  startTime: string | undefined;
}

export function identityOf(record: Partial<OwnerRecord>): OwnerIdentity {
  const known = record.host !== undefined && record.boot_id !== undefined && record.pid_ns !== undefined;
  return {
    origin: known
      ? createHash('sha256').update(`${record.host}\n${record.boot_id}\n${record.pid_ns}`).digest('hex').slice(0, 12)
      : undefined,
    pid: record.pid,
    startTime: record.start_time || undefined,
  };
}

export interface Judgment {
  state: 'alive' | 'stale';
  /** One phrase for an operator, e.g. "pid 12 is not running". */
  reason: string;
  /** Same host, boot and PID namespace as this process: the pid can be checked and signalled. */
  local: boolean;
  /** Whether the process itself was seen (same pid and start time), not only a heartbeat. */
  verified: boolean;
  heartbeatAgeMs: number | undefined;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Judge an owner (see the module header); `heartbeatMs` is the carrying file's mtime. */
export function judgeOwner(id: OwnerIdentity, heartbeatMs: number | undefined, now = Date.now()): Judgment {
  const age = heartbeatMs === undefined ? undefined : Math.max(0, now - heartbeatMs);
  const o = ourOrigin();
  const local = id.origin !== undefined && id.origin === o.tag && id.pid !== undefined;
  const judged = (state: Judgment['state'], reason: string, verified = false): Judgment => ({
    state,
    reason,
    local,
    verified,
    heartbeatAgeMs: age,
  });
  if (local && id.pid !== undefined) {
    if (id.pid === process.pid && (!id.startTime || id.startTime === ownStartTime())) return judged('alive', 'this process', true);
    const probe = probeProcess(id.pid);
    if (!probe.running) return judged('stale', `pid ${id.pid} is not running on this host`);
    if (id.startTime && probe.startTime && probe.startTime !== id.startTime) {
      return judged('stale', `pid ${id.pid} now belongs to another process (it started later)`);
    }
    if (id.startTime && probe.startTime) return judged('alive', `pid ${id.pid} is running`, true);
    // The pid is in use but nothing tells whether by the same process: the heartbeat decides.
  }
  const where = local ? `pid ${id.pid} is in use, its start time unknown` : 'another host, boot or PID namespace';
  if (age === undefined) return judged('stale', 'no heartbeat');
  if (age > STALE_AFTER_MS) return judged('stale', `${where}: no heartbeat for ${seconds(age)} (limit ${seconds(STALE_AFTER_MS)})`);
  return judged('alive', `${where}, judged by its heartbeat (limit ${seconds(STALE_AFTER_MS)})`);
}

/** Whether a record names this very process. */
export function isThisProcess(record: Partial<OwnerRecord>): boolean {
  const id = identityOf(record);
  return id.origin === ourOrigin().tag && id.pid === process.pid && (!id.startTime || id.startTime === ownStartTime());
}

/** Whether the process a record names still runs (checked by pid and start time, here only). */
export function isOwnerRunning(record: Partial<OwnerRecord>): boolean {
  const j = judgeOwner(identityOf(record), undefined);
  return j.local && j.verified;
}

/** A file carrying an owner record: the record found in it and its heartbeat (mtime). */
export interface OwnerFile {
  record: Partial<OwnerRecord>;
  /** The parsed JSON (undefined when unreadable), for callers whose files carry more. */
  json: unknown;
  heartbeatMs: number;
  judgment: Judgment;
}

function parseOwnerFile(text: string, heartbeatMs: number): OwnerFile {
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    // Not JSON: an older bare pid, or damage; what parses is all there is to go by.
    const pid = Number(text.trim());
    json = Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }
  const record = parseOwner(json);
  return { record, json, heartbeatMs, judgment: judgeOwner(identityOf(record), heartbeatMs) };
}

/** Read and judge an owner file; undefined when it does not exist. */
export async function readOwnerFile(path: string): Promise<OwnerFile | undefined> {
  try {
    const heartbeatMs = (await fs.stat(path)).mtimeMs;
    return parseOwnerFile(await fs.readFile(path, 'utf8'), heartbeatMs);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** `readOwnerFile` for callers that must not wait (status, an exit path). */
export function readOwnerFileSync(path: string): OwnerFile | undefined {
  try {
    const heartbeatMs = statSync(path).mtimeMs;
    return parseOwnerFile(readFileSync(path, 'utf8'), heartbeatMs);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Who an owner is, for messages: "pid 12 on host web-1, since 2026-…". */
export function describeOwner(record: Partial<OwnerRecord>): string {
  const parts = [record.pid !== undefined ? `pid ${record.pid}` : 'unknown pid'];
  if (record.host) parts.push(`on host ${record.host}`);
  if (record.started_at) parts.push(`since ${record.started_at}`);
  return parts.join(' ');
}
