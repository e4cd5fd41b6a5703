/**
 * Section "upload" (optional: HOZIRON_BENCH_SECTIONS=…,upload): `hoziron backup push` of the
 * reference archive (the newest backup of the working home) to an S3-protocol server on
 * loopback (s3rver, a devDependency, started here), beside a baseline: the same bytes sent
 * by the AWS SDK in one plain PUT from a child process. Interleaved runs, each to a fresh
 * prefix. Bar: the push's peak RSS ≤ 128 MB (memory must not grow with the archive: parts
 * stream). Its time is reported beside the PUT's, not barred: the push also reads the object
 * back to check its SHA-256 and uploads the sidecars, which the plain PUT does not.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { BackupRecord } from '../../src/api/types.js';
import { formatBytes } from '../../src/cli/format.js';
import { hoziron, hozironSync, parseJson, REPO_ROOT } from '../hoziron.js';
import { median, quiesce, runMeasured } from '../measure.js';
import { failureOf, figuresOf, type Check, type Operation, type Section } from '../report.js';
import { rotation, type BenchContext } from './context.js';

const BUCKET = 'hoziron-bench';
const RSS_BAR_BYTES = 128 * 1024 * 1024;

const medianWall = (op: Operation): number => median(op.runs.map((r) => r.wall_s));

/** One plain PutObject of a file (streamed, its length given), as the baseline. */
const PLAIN_PUT = `
import { createReadStream, statSync } from 'node:fs';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const [endpoint, key, file] = process.argv.slice(1);
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
await client.send(new PutObjectCommand({ Bucket: '${BUCKET}', Key: key, Body: createReadStream(file), ContentLength: statSync(file).size }));
client.destroy();
`;

function configureRemote(home: string, endpoint: string, prefix: string): void {
  const config = join(home, 'config.toml');
  const text = readFileSync(config, 'utf8').replace(/\n\[backup\.remote\][^[]*/, '\n');
  const section = [
    '[backup.remote]',
    `url = "s3://${BUCKET}/${prefix}"`,
    `endpoint = "${endpoint}"`,
    'force_path_style = true',
    'require_encryption = false',
    'retention = 1000',
  ].join('\n');
  writeFileSync(config, `${text.trimEnd()}\n\n${section}\n`);
}

export async function benchUpload(ctx: BenchContext): Promise<Section> {
  const ours: Operation = { name: 'hoziron backup push (multipart, checked)', runs: [] };
  const put: Operation = { name: 'SDK PutObject, one plain PUT', runs: [] };
  const section: Section = { title: 'upload to an S3 server on loopback (s3rver)', operations: [ours, put], checks: [], notes: [] };
  const records = parseJson<BackupRecord[]>(hozironSync(['backup', 'list', '--home', ctx.home, '--json'])) ?? [];
  const archive = records.find((r) => r.scope === 'full');
  if (!archive) {
    ours.error = put.error = 'no full backup in the working home (run with the create section)';
    section.checks.push({ name: `${ours.name}: peak RSS`, value: 'n/a', bar: '≤ 128 MB', verdict: 'SKIP' });
    return section;
  }
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: join(ctx.work, 's3'),
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const env = join(ctx.home, '.env');
  if (!existsSync(env) || !readFileSync(env, 'utf8').includes('AWS_ACCESS_KEY_ID=')) {
    appendFileSync(env, '\nAWS_ACCESS_KEY_ID=S3RVER\nAWS_SECRET_ACCESS_KEY=S3RVER\n', { mode: 0o600 });
  }
  try {
    const runOurs = async (i: number) => {
      if (ours.error) return;
      configureRemote(ctx.home, endpoint, `run-${i}`);
      await quiesce();
      const m = await hoziron(['backup', 'push', archive.id, '--home', ctx.home, '--json']);
      if (m.code !== 0) ours.error = failureOf(m);
      else ours.runs.push(figuresOf(m, { size_bytes: archive.size_bytes }));
    };
    const runPut = async (i: number) => {
      if (put.error) return;
      await quiesce();
      const m = await runMeasured(process.execPath, ['--input-type=module', '-e', PLAIN_PUT, endpoint, `put-${i}/archive`, archive.path], {
        cwd: REPO_ROOT,
      });
      if (m.code !== 0) put.error = failureOf(m);
      else put.runs.push(figuresOf(m, { size_bytes: archive.size_bytes }));
    };
    for (let i = 0; i < ctx.runs; i++) {
      ctx.log(`  upload run ${i + 1}/${ctx.runs}`);
      for (const run of rotation(i, [runOurs, runPut])) await run(i);
    }
  } finally {
    await server.close();
  }
  const rss = ours.runs.map((r) => r.peak_rss_bytes).filter((x): x is number => x !== null);
  const peak = rss.length > 0 ? Math.max(...rss) : null;
  const check: Check =
    peak === null || ours.error
      ? { name: `${ours.name}: peak RSS`, value: 'n/a', bar: '≤ 128 MB', verdict: 'SKIP' }
      : { name: `${ours.name}: peak RSS`, value: formatBytes(peak), bar: '≤ 128 MB', verdict: peak <= RSS_BAR_BYTES ? 'PASS' : 'FAIL' };
  section.checks.push(check);
  if (ours.runs.length > 0 && put.runs.length > 0) {
    const mbps = (op: Operation) => archive.size_bytes / 1e6 / median(op.runs.map((r) => r.wall_s));
    section.notes.push(
      `${formatBytes(archive.size_bytes)} archive: push ${medianWall(ours).toFixed(2)}s (${mbps(ours).toFixed(0)} MB/s, upload + read-back check + sidecars), ` +
        `plain PUT ${medianWall(put).toFixed(2)}s (${mbps(put).toFixed(0)} MB/s): ratio ${(medianWall(ours) / medianWall(put)).toFixed(2)}× (reported, not barred)`,
    );
  }
  return section;
}
