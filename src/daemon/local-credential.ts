/**
 * One-shot local credentials: how a CLI on the daemon's host, run by the home's owner, gets
 * an admin request through without holding an API key (a CLI restore on a home whose daemon
 * runs goes through the daemon). The CLI writes `run/local-<id>.credential` (O_EXCL, 0600,
 * in the 0700 `run/`) holding the SHA-256 of a fresh 256-bit secret, and sends
 * `Authorization: Bearer hzl_<id>_<secret>`. The daemon accepts it only when:
 * - the connection comes from this host (a loopback address, or the address it was made to);
 * - the file is a regular file (not a symlink), with one link, owned by the daemon's own uid,
 *   with no group or other access, and at most a minute old;
 * - the secret's hash equals the file's (constant time);
 * and it consumes the credential by deleting the file (the unlink is the atomic "first use":
 * a replay, or a second request racing the first, finds no file). Proof of identity is
 * therefore the ability to write into the home's `run/` as the daemon's user, which already
 * gives full control of the home; the token never leaves the host and is never stored.
 * Crash safety: a CLI killed before the daemon consumed its file leaves a file that expires
 * after a minute and is deleted by the next verification of any credential.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync, promises as fs, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { HozironError } from '../errors.js';
import { ensureDir } from '../fsutil/atomic.js';
import type { HomeLayout } from '../home/layout.js';

/** The key id a request authenticated by a local credential carries (actor `api:local-cli`). */
export const LOCAL_KEY_ID = 'local-cli';
/** A credential file older than this is refused (and swept). */
const MAX_AGE_MS = 60_000;
const TOKEN_RE = /^hzl_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const FILE_RE = /^local-[0-9a-f]{32}\.credential$/;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface LocalCredential {
  /** The bearer token to send (never written anywhere). */
  token: string;
  /** Delete the file if the daemon has not consumed it. */
  dispose(): Promise<void>;
}

/** Write a fresh credential into `run/` (client side). */
export async function mintLocalCredential(home: HomeLayout): Promise<LocalCredential> {
  await ensureDir(home.runDir, 0o700);
  const id = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const file = home.localCredential(id);
  // 'wx' is O_CREAT|O_EXCL: it never follows or reuses what is already there.
  await fs.writeFile(file, `${JSON.stringify({ sha256: sha256Hex(secret), pid: process.pid })}\n`, { flag: 'wx', mode: 0o600 });
  return { token: `hzl_${id}_${secret}`, dispose: () => fs.rm(file, { force: true }) };
}

export function isLocalCredentialToken(token: string): boolean {
  return token.startsWith('hzl_');
}

function normalise(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}

/** Whether a connection comes from this host: a loopback address, or the address it reached. */
function isSameHost(remote: string | undefined, local: string | undefined): boolean {
  const r = normalise(remote);
  if (r === '') return false;
  return r === '::1' || /^127\.\d+\.\d+\.\d+$/.test(r) || r === normalise(local);
}

function refuse(why: string): HozironError {
  return new HozironError('unauthorized', `local credential refused: ${why}`);
}

/** Delete credential files older than the limit (left by a CLI killed before use). */
function sweepExpired(home: HomeLayout, now: number): void {
  let names: string[];
  try {
    names = readdirSync(home.runDir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!FILE_RE.test(name)) continue;
    const path = `${home.runDir}/${name}`;
    try {
      if (now - lstatSync(path).mtimeMs > MAX_AGE_MS) unlinkSync(path);
    } catch {
      /* gone meanwhile */
    }
  }
}

/**
 * Check and consume a local credential (daemon side); throws `unauthorized` without saying
 * more than needed. Synchronous: a few syscalls on a tiny file in `run/`.
 */
export function consumeLocalCredential(home: HomeLayout, token: string, conn: { remote?: string; local?: string }): void {
  const now = Date.now();
  sweepExpired(home, now);
  const m = TOKEN_RE.exec(token);
  if (!m) throw refuse('malformed token');
  if (!isSameHost(conn.remote, conn.local)) throw refuse('only accepted from this host');
  const file = home.localCredential(m[1]!);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    throw refuse('unknown or already used');
  }
  const uid = process.getuid?.();
  if (!st.isFile() || st.nlink !== 1) throw refuse('not a regular file');
  if (uid !== undefined && st.uid !== uid) throw refuse('not owned by the daemon user');
  if ((st.mode & 0o077) !== 0) throw refuse('group or other can access it');
  if (now - st.mtimeMs > MAX_AGE_MS || st.mtimeMs - now > 5000) throw refuse('expired');
  let want: Buffer;
  try {
    want = Buffer.from((JSON.parse(readFileSync(file, 'utf8')) as { sha256?: unknown }).sha256 as string, 'hex');
  } catch {
    throw refuse('unreadable');
  }
  const got = Buffer.from(sha256Hex(m[2]!), 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw refuse('wrong secret');
  try {
    unlinkSync(file);
  } catch {
    throw refuse('unknown or already used'); // another request consumed it first
  }
}
