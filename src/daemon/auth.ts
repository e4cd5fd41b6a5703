/**
 * Bearer-token authentication and role checks. Each route declares the role it needs in its
 * Fastify route config (`config: { role }`); routes without one (health) are open. The token
 * is checked against keys.db in constant time (`KeyStore.authenticate`); it is never logged
 * and never echoed in an error. `last_used_at` is recorded at most once a minute per key, so
 * authentication does not add a durable write to every request. A `hzl_` token is a one-shot
 * local credential (local-credential.ts): admin, from this host only, consumed on use.
 */
import type { FastifyRequest } from 'fastify';
import { HozironError } from '../errors.js';
import { roleAtLeast, type KeyInfo, type Role } from '../stores/keys.js';
import type { DaemonContext } from './context.js';
import { LOCAL_KEY_ID, consumeLocalCredential, isLocalCredentialToken } from './local-credential.js';

const TOUCH_INTERVAL_MS = 60_000;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The weakest role allowed on this route; absent means no authentication. */
    role?: Role;
  }
  interface FastifyRequest {
    apiKey?: KeyInfo;
  }
}

export class Authenticator {
  private readonly lastTouch = new Map<string, number>();

  constructor(private readonly ctx: DaemonContext) {}

  /** Throws `unauthorized` (401) or `forbidden` (403); sets `request.apiKey` on success. */
  check(request: FastifyRequest, needed: Role): void {
    const header = request.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) {
      throw new HozironError('unauthorized', 'missing bearer token', 'send Authorization: Bearer <token> with an API key', {
        remedy: 'send_token',
      });
    }
    if (isLocalCredentialToken(m[1]!)) {
      consumeLocalCredential(this.ctx.home, m[1]!, { remote: request.socket.remoteAddress, local: request.socket.localAddress });
      request.apiKey = { id: LOCAL_KEY_ID, name: 'local credential', role: 'admin', created_at: '', last_used_at: null, revoked_at: null };
      return;
    }
    const key = this.ctx.keys.authenticate(m[1]!);
    if (!key) throw new HozironError('unauthorized', 'invalid or revoked API key');
    request.apiKey = key;
    if (!roleAtLeast(key.role, needed)) {
      throw new HozironError('forbidden', `this route needs the ${needed} role; key ${key.id} is ${key.role}`);
    }
    const now = Date.now();
    if (now - (this.lastTouch.get(key.id) ?? 0) >= TOUCH_INTERVAL_MS) {
      this.lastTouch.set(key.id, now);
      try {
        this.ctx.keys.touch(key.id);
      } catch {
        /* best effort: a busy keys.db must not fail the request */
      }
    }
  }
}
