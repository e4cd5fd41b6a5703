import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ParallelGzip, looksIncompressible } from '../../src/archive/gzip.js';

async function compress(parts: Buffer[], chunkSize = 64 * 1024): Promise<Buffer> {
  return buffer(Readable.from(parts).pipe(new ParallelGzip({ chunkSize })));
}

const text = (n: number) => Buffer.from('the agent remembered the session and wrote it down. '.repeat(Math.ceil(n / 52)).slice(0, n));

describe('ParallelGzip', () => {
  it('round-trips a mix of deflated and stored chunks as one gzip member, ending in either kind', async () => {
    for (const parts of [
      [randomBytes(300_000), text(200_000), randomBytes(150_000)],
      [text(100_000), randomBytes(200_000), text(70_001)],
      [randomBytes(64 * 1024 * 3)],
    ]) {
      const input = Buffer.concat(parts);
      const gz = await compress(parts);
      expect(gunzipSync(gz).equals(input)).toBe(true);
      expect(gz.length).toBeLessThan(input.length + 1024);
    }
  });

  it('handles empty input and input smaller than a chunk', async () => {
    expect(gunzipSync(await compress([])).length).toBe(0);
    expect(gunzipSync(await compress([text(10)])).toString()).toBe(text(10).toString());
  });

  it('tells random bytes from text', () => {
    expect(looksIncompressible(randomBytes(1 << 20))).toBe(true);
    expect(looksIncompressible(text(1 << 20))).toBe(false);
  });
});
