/**
 * The benchmark's cache: the reference home is generated once per (scale, seed, generator
 * version) into `.bench-cache/` and reused. A marker file beside the home, written only
 * after generation finished, says the home is complete; without it the home is rebuilt.
 * The cached home is never modified: every run works on copies of it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATOR_VERSION, generateReferenceHome, type GenerateSummary } from './home/generate.js';

export interface CachedHome {
  home: string;
  summary: GenerateSummary;
  reused: boolean;
}

interface Marker {
  generator_version: number;
  scale: number;
  seed: number;
  summary: GenerateSummary;
}

export async function ensureReferenceHome(cacheDir: string, scale: number, seed: number, log: (line: string) => void): Promise<CachedHome> {
  mkdirSync(cacheDir, { recursive: true });
  const name = `home-scale${scale}-seed${seed}`;
  const home = join(cacheDir, name);
  const markerPath = join(cacheDir, `${name}.json`);
  if (existsSync(markerPath) && existsSync(home)) {
    const marker = JSON.parse(readFileSync(markerPath, 'utf8')) as Marker;
    if (marker.generator_version === GENERATOR_VERSION && marker.scale === scale && marker.seed === seed) {
      return { home, summary: marker.summary, reused: true };
    }
  }
  rmSync(markerPath, { force: true }); // a half-built home must never look complete
  log(`generating the reference home (scale ${scale}, seed ${seed}) into ${home} ...`);
  const summary = await generateReferenceHome(home, { scale, seed, force: true });
  const marker: Marker = { generator_version: GENERATOR_VERSION, scale, seed, summary };
  writeFileSync(markerPath, `${JSON.stringify(marker, null, 2)}\n`);
  return { home, summary, reused: false };
}
