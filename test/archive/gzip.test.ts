import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GzipMembers, looksIncompressible, type MemberInfo, type MemberReuse } from '../../src/archive/gzip.js';

async function compress(
  parts: Buffer[],
  opts: { chunkSize?: number; cutAfter?: boolean; reuse?: MemberReuse } = {},
): Promise<{ gz: Buffer; members: Buffer[]; infos: MemberInfo[] }> {
  const members: Buffer[] = [];
  const infos: MemberInfo[] = [];
  const gz = new GzipMembers(
    async (m, info) => {
      members.push(m);
      infos.push(info);
    },
    { chunkSize: opts.chunkSize ?? 64 * 1024, reuse: opts.reuse },
  );
  for (const p of parts) {
    await gz.write(p);
    if (opts.cutAfter) await gz.cut();
  }
  await gz.end();
  return { gz: Buffer.concat(members), members, infos };
}

const text = (n: number) => Buffer.from('the agent remembered the session and wrote it down. '.repeat(Math.ceil(n / 52)).slice(0, n));

describe('GzipMembers', () => {
  it('round-trips a mix of deflated and stored segments as independent gzip members', async () => {
    for (const parts of [
      [randomBytes(300_000), text(200_000), randomBytes(150_000)],
      [text(100_000), randomBytes(200_000), text(70_001)],
      [randomBytes(64 * 1024 * 3)],
    ]) {
      const input = Buffer.concat(parts);
      const { gz, members, infos } = await compress(parts);
      expect(gunzipSync(gz).equals(input)).toBe(true);
      expect(gz.length).toBeLessThan(input.length + 1024);
      // Each member is a whole gzip file of its own segment.
      let at = 0;
      members.forEach((m, i) => {
        const out = gunzipSync(m);
        expect(out.equals(input.subarray(at, at + out.length))).toBe(true);
        expect(infos[i]!.rawLength).toBe(out.length);
        expect(infos[i]!.length).toBe(m.length);
        at += out.length;
      });
      expect(at).toBe(input.length);
    }
  });

  it('cuts a segment where it is told, so equal input after a cut gives equal members', async () => {
    const a = await compress([text(1000), text(5000), randomBytes(100)], { cutAfter: true });
    expect(a.members.length).toBe(3);
    const b = await compress([text(2000), text(5000)], { cutAfter: true });
    expect(b.members[1]!.equals(a.members[1]!)).toBe(true);
  });

  it('takes a member from the reuse hook for a segment it knows, and compresses the rest', async () => {
    const known = text(3000);
    const offered = Buffer.concat([Buffer.from('not checked here')]);
    const reuse: MemberReuse = {
      take: (raw) => Promise.resolve(raw.equals(known) ? offered : undefined),
    };
    const { members, infos } = await compress([known, text(10)], { cutAfter: true, reuse });
    expect(members[0]).toBe(offered);
    expect(infos.map((i) => i.reused)).toEqual([true, false]);
  });

  it('handles empty input and input smaller than a chunk', async () => {
    expect((await compress([])).members.length).toBe(0);
    expect(gunzipSync((await compress([text(10)])).gz).toString()).toBe(text(10).toString());
  });

  it('tells random bytes from text', () => {
    expect(looksIncompressible(randomBytes(1 << 20))).toBe(true);
    expect(looksIncompressible(text(1 << 20))).toBe(false);
  });
});
