/**
 * The operator's console as files: the page `web/` builds with Vite into `dist/web/`
 * (`index.html` and hashed files under `assets/`). The daemon serves them from disk on
 * request, so starting the daemon reads none of them, and a daemon built without the console
 * still serves its API (the page answers 404 with a hint). Only names made of safe
 * characters are looked up, directly under the console's folder: no request path is ever
 * joined into a path that could climb out of it.
 */
import { createReadStream, promises as fs, type ReadStream } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `dist/src/console/assets.js` → `dist/web/` (the build's layout; see vite.config.ts). */
const DEFAULT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../web');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

export interface ConsoleAsset {
  body: ReadStream;
  contentType: string;
  size: number;
  /** Hashed names never change content: cache them for a year; the page itself never. */
  immutable: boolean;
}

/**
 * The strict policy every console answer carries: scripts and styles only from files of the
 * daemon (no inline code, no CDN), fetches only to the daemon, no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export class ConsoleAssets {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  /** `index.html`, or a file of `assets/`; undefined when there is no such file. */
  async open(folder: '' | 'assets', name: string): Promise<ConsoleAsset | undefined> {
    if (!SAFE_NAME.test(name) || name.includes('..')) return undefined;
    const contentType = CONTENT_TYPES[extname(name).toLowerCase()];
    if (!contentType) return undefined;
    const path = join(this.root, folder, name);
    try {
      const st = await fs.stat(path);
      if (!st.isFile()) return undefined;
      return { body: createReadStream(path), contentType, size: st.size, immutable: folder === 'assets' };
    } catch {
      return undefined;
    }
  }
}
