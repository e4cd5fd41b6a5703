/**
 * `npm run make-home -- --out DIR [--scale F] [--seed S] [--force]`: write the reference
 * home (README.md#performance; about 470 MB at scale 1) deterministically from a seed, and print what
 * was written. The generator itself lives in `bench/home/`.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HozironError, isHozironError } from '../src/errors.js';
import { formatBytes } from '../src/cli/format.js';
import { generateReferenceHome } from './home/generate.js';

export const DEFAULT_SEED = 1;

function parseNumber(flag: string, text: string | undefined, fallback: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new HozironError('usage', `--${flag} expects a positive ${integer ? 'integer' : 'number'}, not "${text}"`);
  }
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      scale: { type: 'string' },
      seed: { type: 'string' },
      force: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.out) throw new HozironError('usage', 'missing --out DIR', 'npm run make-home -- --out DIR [--scale F] [--seed S] [--force]');
  const scale = parseNumber('scale', values.scale, 1, false);
  const seed = parseNumber('seed', values.seed, DEFAULT_SEED, true);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`${line}\n`);
  };
  log(`generating a reference home at scale ${scale}, seed ${seed}, in ${resolve(values.out)}`);
  const summary = await generateReferenceHome(resolve(values.out), {
    scale,
    seed,
    force: values.force,
    onPart: (part, seconds) => log(`  ${part}: ${seconds.toFixed(1)}s`),
  });
  process.stdout.write(
    `${summary.home}: ${summary.files} files, ${formatBytes(summary.bytes)} (${summary.bytes} bytes), ` +
      `${summary.messages} session messages, ${summary.audit_events} audit events, in ${summary.seconds.toFixed(1)}s\n`,
  );
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isHozironError(err)) {
    process.stderr.write(`error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exitCode = err.code === 'usage' ? 2 : 1;
  } else if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
});
