/**
 * Test support: a real S3-protocol server on loopback (the `s3rver` package, storing objects
 * as files in a temporary directory), started and stopped by the tests, behind a small proxy
 * that the tests drive to inject faults: answer 500/503, slow every byte down, or cut the
 * connection mid-upload and kill the server (later restarted on the same directory).
 *
 * s3rver 3.7 implements multipart upload but not ListMultipartUploads nor
 * AbortMultipartUpload; the two are added here over s3rver's own upload directories (the
 * parts it keeps for an unfinished upload), so an abandoned upload is as visible and as
 * abortable as on a real store. Everything else is s3rver's, including signature checks
 * (its only account is S3RVER / S3RVER).
 */
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import S3rver from 's3rver';

export const S3_BUCKET = 'hoziron-test';
export const S3_KEY_ID = 'S3RVER';
export const S3_SECRET = 'S3RVER';
const UPLOADS_DIR = '._S3rver_uploads';

/** What the proxy does with the next requests. */
export type Fault =
  | { kind: 'none' }
  /** Answer every request with this status (an S3 error body), or only the next `count`. */
  | { kind: 'status'; status: number; count?: number }
  /** Forward, pausing `ms` before each chunk of a request body. */
  | { kind: 'slow'; ms: number }
  /** Forward until `bytes` of request bodies have passed, then cut every connection and kill the server. */
  | { kind: 'die-after'; bytes: number };

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  body: unknown;
  type: string;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export class S3TestServer {
  private server: S3rver | undefined;
  private serverPort = 0;
  private proxy: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private fault: Fault = { kind: 'none' };
  private forwarded = 0;
  /** How many requests the proxy answered with an injected status. */
  injected = 0;

  private constructor(readonly dir: string) {}

  static async start(dir: string): Promise<S3TestServer> {
    mkdirSync(dir, { recursive: true });
    const s = new S3TestServer(dir);
    await s.startServer();
    await s.startProxy();
    return s;
  }

  /** The endpoint hoziron is configured with (the proxy). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.proxy!.address() as AddressInfo).port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  setFault(f: Fault): void {
    this.fault = f;
    this.forwarded = 0;
  }

  private async startServer(): Promise<void> {
    const server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: this.dir,
      configureBuckets: [{ name: S3_BUCKET, configs: [] }],
    });
    // Ahead of s3rver's own router: the two multipart operations it lacks (module header).
    (server as unknown as { middleware: unknown[] }).middleware.unshift(async (ctx: KoaContext, next: () => Promise<void>) => {
      const m = /^\/([^/]+)(?:\/(.+))?$/.exec(ctx.path);
      if (m && ctx.method === 'DELETE' && m[2] && ctx.query.uploadId !== undefined) {
        const dir = join(this.dir, m[1]!, UPLOADS_DIR, ctx.query.uploadId);
        if (!existsSync(dir)) {
          ctx.status = 404;
          ctx.type = 'application/xml';
          ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>';
          return;
        }
        rmSync(dir, { recursive: true, force: true });
        ctx.status = 204;
        return;
      }
      if (m && ctx.method === 'GET' && !m[2] && ctx.query.uploads !== undefined) {
        const prefix = ctx.query.prefix ?? '';
        const uploads = this.unfinishedUploads(m[1]).filter((u) => u.key.startsWith(prefix));
        ctx.type = 'application/xml';
        ctx.body =
          `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${xml(m[1]!)}</Bucket><IsTruncated>false</IsTruncated>` +
          uploads.map((u) => `<Upload><Key>${xml(u.key)}</Key><UploadId>${u.id}</UploadId></Upload>`).join('') +
          '</ListMultipartUploadsResult>';
        return;
      }
      await next();
    });
    const { port } = await server.run();
    this.server = server;
    this.serverPort = port;
  }

  /** Unfinished multipart uploads of `bucket`, as s3rver keeps them on disk. */
  unfinishedUploads(bucket = S3_BUCKET): { id: string; key: string }[] {
    const root = join(this.dir, bucket, UPLOADS_DIR);
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .filter((id) => existsSync(join(root, id, 'key')))
      .map((id) => ({ id, key: readFileSync(join(root, id, 'key'), 'utf8') }));
  }

  /** The bytes of a stored object, read from s3rver's directory. */
  objectBytes(key: string, bucket = S3_BUCKET): Buffer | undefined {
    const parts = key.split('/');
    const last = parts.pop()!;
    const path = join(this.dir, bucket, ...parts, `${last}._S3rver_object`);
    return existsSync(path) ? readFileSync(path) : undefined;
  }

  private async startProxy(): Promise<void> {
    const proxy = http.createServer((req, res) => this.handle(req, res));
    proxy.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      if (!this.server) s.destroy(); // the server is dead: nothing answers
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    this.proxy = proxy;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const f = this.fault;
    if (!this.server) {
      req.socket.destroy();
      return;
    }
    if (f.kind === 'status' && (f.count === undefined || f.count > 0)) {
      if (f.count !== undefined) f.count--;
      this.injected++;
      req.resume();
      res.writeHead(f.status, { 'Content-Type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${f.status === 503 ? 'SlowDown' : 'InternalError'}</Code><Message>injected</Message></Error>`,
      );
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: this.serverPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.on('data', (chunk: Buffer) => {
      if (f.kind === 'die-after') {
        this.forwarded += chunk.length;
        if (this.forwarded > f.bytes) {
          void this.kill();
          return;
        }
      }
      if (f.kind === 'slow') {
        req.pause();
        setTimeout(() => {
          upstream.write(chunk);
          req.resume();
        }, f.ms);
        return;
      }
      upstream.write(chunk);
    });
    req.on('end', () => {
      if (f.kind === 'slow') setTimeout(() => upstream.end(), f.ms + 1);
      else upstream.end();
    });
  }

  /** Kill the server: every connection cut, nothing answers until `restart`. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await server.close();
  }

  /** Start the server again on the same directory (what it stored survives), with no fault. */
  async restart(): Promise<void> {
    await this.kill();
    this.setFault({ kind: 'none' });
    await this.startServer();
  }

  async stop(): Promise<void> {
    await this.kill();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.proxy?.close(() => r()) ?? r());
  }
}
