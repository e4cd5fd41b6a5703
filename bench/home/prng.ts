/**
 * A small seeded pseudo-random generator (mulberry32) for the reference-home generator.
 * The same seed and label always give the same sequence on every machine and Node release,
 * which is what makes a generated home byte-for-byte reproducible. Not for cryptography.
 */

import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';

/** FNV-1a over a label, mixed with the seed: one independent stream per part of the home. */
function deriveState(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  private state: number;

  /**
   * A stream for one part of the home. Separate labels keep the parts independent, so a
   * change to how agents are generated does not shift the bytes of the skill packages.
   */
  constructor(seed: number, label = '') {
    this.state = deriveState(seed, label);
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Pick with a bias towards the start of the list (a rough Zipf shape, like word use). */
  pickSkewed<T>(items: readonly T[], skew = 2): T {
    return items[Math.floor(Math.pow(this.float(), skew) * items.length)]!;
  }

  hex(chars: number): string {
    let s = '';
    while (s.length < chars) s += this.nextU32().toString(16).padStart(8, '0');
    return s.slice(0, chars);
  }

  /** Fill a buffer with pseudo-random bytes (incompressible to gzip). */
  fill(buf: Buffer): Buffer {
    const words = Math.floor(buf.length / 4);
    if (LITTLE_ENDIAN && buf.byteOffset % 4 === 0) {
      // A typed view is ~10x faster than writeUInt32LE; on a little-endian host the bytes
      // are the same, so the output does not depend on the path taken.
      const view = new Uint32Array(buf.buffer, buf.byteOffset, words);
      for (let i = 0; i < words; i++) view[i] = this.nextU32();
    } else {
      for (let i = 0; i < words; i++) buf.writeUInt32LE(this.nextU32(), i * 4);
    }
    for (let i = words * 4; i < buf.length; i++) buf[i] = this.nextU32() & 0xff;
    return buf;
  }
}
