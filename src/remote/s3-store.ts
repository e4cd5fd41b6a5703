/**
 * `S3Store`: the one face of an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, B2, ...)
 * that the backup core uses, through the official AWS SDK v3. Objects are named
 * `<prefix>/<file name>`, the same names as in the storage path.
 *
 * Invariants: an upload streams the file from disk (multipart, parts of PART_SIZE read into
 * QUEUE_SIZE buffers allocated once, so memory is two parts whatever the archive's size;
 * sendParts says why not lib-storage), each part carries its SHA-256 (the store checks it), and it counts as done only
 * when the stored object's size and SHA-256 (read back as a stream) equal the local file's.
 * A multipart upload that fails is aborted; if even the abort fails (the store is down), its
 * id is returned in the error so the caller can abort it on the next run. Downloads are
 * hashed as they stream and land under a temporary name, renamed into place only when the
 * hash matches. Messages name the bucket and the store's answer, never a credential.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { HozironError } from '../errors.js';
import { fsyncDir } from '../fsutil/durable.js';
import { tempNameFor } from '../fsutil/temp.js';
import type { RemoteCredentials } from './credentials.js';
import { remoteError } from './remote-error.js';

/** Part size: 5 MiB, S3's minimum (memory is QUEUE_SIZE parts), grown for huge files to stay under 10,000 parts. */
const PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 9_000;
/** Parts in flight at once, and the part buffers held: memory is QUEUE_SIZE parts. */
const QUEUE_SIZE = 2;
/** A small object (sidecar, summary) is read whole; anything larger is refused. */
const SMALL_LIMIT = 16 * 1024 * 1024;

export interface RemoteSettings {
  url: string;
  endpoint: string;
  region: string;
  force_path_style: boolean;
  object_lock_days: number;
}

export interface RemoteObject {
  /** The object's name under the prefix (a file name as in the storage path). */
  name: string;
  size: number;
  modified: string;
}

/** A multipart upload that could not be aborted when it failed: abort it later. */
interface PendingAbort {
  key: string;
  upload_id: string;
}

function parseRemoteUrl(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new HozironError('config_invalid', `backup.remote.url: expected s3://bucket/prefix, found ${JSON.stringify(url)}`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, '') };
}

export class S3Store {
  readonly bucket: string;
  readonly prefix: string;
  /** `s3://bucket/prefix`, for messages. */
  readonly where: string;
  private readonly client: S3Client;

  constructor(
    private readonly settings: RemoteSettings,
    credentials: RemoteCredentials | undefined,
  ) {
    // The SDK warns on stderr about Node 20's support window; our CLI prints one JSON document
    // or its own lines on stderr, so that notice stays out (the engines field says what runs).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { bucket, prefix } = parseRemoteUrl(settings.url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.where = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.force_path_style,
      ...(credentials ? { credentials } : {}),
      maxAttempts: 4,
      // Checksums are given explicitly (SHA-256 per part and per sidecar); none is computed
      // behind our back with a trailing, chunk-encoded body that some S3-compatible stores reject.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    });
  }

  close(): void {
    this.client.destroy();
  }

  keyOf(name: string): string {
    return this.prefix ? `${this.prefix}/${name}` : name;
  }

  private fail(err: unknown, action: string): HozironError {
    return remoteError(err, action, this.where, this.settings.endpoint);
  }

  /** Every object directly under the prefix. */
  async list(): Promise<RemoteObject[]> {
    const found: RemoteObject[] = [];
    const start = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: start, Delimiter: '/', ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          found.push({ name: o.Key.slice(start.length), size: o.Size ?? 0, modified: (o.LastModified ?? new Date(0)).toISOString() });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.fail(err, 'cannot list');
    }
    return found;
  }

  private lockParams(): Pick<PutObjectCommandInput, 'ObjectLockMode' | 'ObjectLockRetainUntilDate'> {
    const days = this.settings.object_lock_days;
    if (days <= 0) return {};
    return { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(Date.now() + days * 86_400_000) };
  }

  /**
   * Upload a local file as `name`, then check the stored object (size, SHA-256 read back).
   * `sha256` is the file's hex digest as recorded in its sidecar.
   */
  async uploadFile(path: string, name: string, sha256: string, size: number): Promise<void> {
    const key = this.keyOf(name);
    const partSize = Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS));
    let uploadId: string | undefined;
    const handle = await fs.open(path, 'r');
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ContentType: 'application/octet-stream',
          ChecksumAlgorithm: 'SHA256',
          Metadata: { sha256 },
          ...this.lockParams(),
        }),
      );
      uploadId = created.UploadId;
      if (!uploadId) throw new HozironError('remote', `the store gave no upload id for ${name} in ${this.where}`);
      const parts = await this.sendParts(handle, key, uploadId, size, partSize);
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (err) {
      const failure = this.fail(err, `cannot upload ${name} to`);
      // A failed upload is aborted at once; if the store does not take even that (it is
      // down), its id is handed back to be aborted on the next run.
      if (uploadId && !(await this.abortUpload(key, uploadId))) {
        const pendingAbort: PendingAbort = { key, upload_id: uploadId };
        Object.assign(failure, { pendingAbort });
      }
      throw failure;
    } finally {
      await handle.close();
    }
    await this.checkObject(name, sha256, size);
  }

  /**
   * Send the file's parts, QUEUE_SIZE at a time, each read from disk into one of QUEUE_SIZE
   * buffers allocated once (a buffer is reused only when the part it held has been sent), with
   * its SHA-256. Buffers rather than streams because the SDK retries a part that failed with
   * a 5xx, which needs a body it can send again. lib-storage's Upload is not used: it copies
   * every chunk of a stream, then joins them into each part, which costs several times the
   * part size per part in flight (measured: the 128 MB bar of a push was out of reach).
   */
  private async sendParts(handle: FileHandle, key: string, uploadId: string, size: number, partSize: number): Promise<CompletedPart[]> {
    const buffers = Array.from({ length: QUEUE_SIZE }, () => Buffer.allocUnsafe(Math.min(partSize, Math.max(size, 1))));
    const slots: Promise<void>[] = [];
    const parts: CompletedPart[] = [];
    let failure: unknown;
    for (let n = 1, offset = 0; offset < size && failure === undefined; n++, offset += partSize) {
      const slot = (n - 1) % QUEUE_SIZE;
      await slots[slot]; // its buffer is free again
      if (failure !== undefined) break;
      const body = buffers[slot]!.subarray(0, Math.min(partSize, size - offset));
      await readExactly(handle, body, offset);
      const checksum = createHash('sha256').update(body).digest('base64');
      const partNumber = n;
      slots[slot] = this.client
        .send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ChecksumSHA256: checksum,
          }),
        )
        .then(
          (r) => {
            parts[partNumber - 1] = { PartNumber: partNumber, ETag: r.ETag, ChecksumSHA256: checksum };
          },
          (err: unknown) => {
            failure ??= err;
          },
        );
    }
    await Promise.all(slots);
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error('a part upload failed', { cause: failure });
    return parts;
  }

  /** Upload a small file (a sidecar) whole and check it by reading it back. */
  async putSmall(name: string, body: Buffer): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(name),
          Body: body,
          ContentType: name.endsWith('.json') ? 'application/json' : 'text/plain',
          ChecksumAlgorithm: 'SHA256',
          ...this.lockParams(),
        }),
      );
    } catch (err) {
      throw this.fail(err, `cannot upload ${name} to`);
    }
    const back = await this.readSmall(name);
    if (!back.equals(body)) throw new HozironError('remote', `${name} in ${this.where} does not match the local file after upload`);
  }

  /** The stored object's size, or undefined when there is none. */
  async sizeOf(name: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name) }));
      return head.ContentLength ?? 0;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return undefined;
      throw this.fail(err, `cannot look up ${name} in`);
    }
  }

  /** Check that the stored object is exactly the uploaded file: its size, then its SHA-256 read back. */
  async checkObject(name: string, sha256: string, size: number): Promise<void> {
    const stored = await this.sizeOf(name);
    if (stored !== size) {
      throw new HozironError(
        'remote',
        `${name} in ${this.where} has ${stored === undefined ? 'no object' : `${stored} bytes`} after upload, not ${size}`,
        'push it again',
      );
    }
    const hash = createHash('sha256');
    await this.stream(name, new Writable({ write: (chunk: Buffer, _e, cb) => (hash.update(chunk), cb()) }));
    const got = hash.digest('hex');
    if (got !== sha256) {
      throw new HozironError(
        'remote',
        `${name} in ${this.where} does not match its checksum after upload (sha256:${got})`,
        'push it again',
      );
    }
  }

  private async stream(name: string, sink: Writable, through?: Transform): Promise<void> {
    let body: Readable;
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name) }));
      body = got.Body as Readable;
    } catch (err) {
      throw this.fail(err, `cannot read ${name} from`);
    }
    try {
      await (through ? pipeline(body, through, sink) : pipeline(body, sink));
    } catch (err) {
      if (err instanceof HozironError) throw err;
      throw this.fail(err, `cannot read ${name} from`);
    }
  }

  /** A small object whole (a sidecar or summary); refused past 16 MiB. */
  async readSmall(name: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    await this.stream(
      name,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          total += chunk.length;
          if (total > SMALL_LIMIT) return cb(new HozironError('remote', `${name} is larger than a sidecar can be`));
          chunks.push(chunk);
          cb();
        },
      }),
    );
    return Buffer.concat(chunks);
  }

  /**
   * Download `name` to `dest`, hashing as it streams: written under a temporary name beside
   * `dest`, fsynced, renamed into place only if its SHA-256 is `sha256`; otherwise removed.
   */
  async download(name: string, dest: string, sha256: string, onBytes?: (n: number) => void): Promise<void> {
    const tmp = tempNameFor(dest);
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      const out = new Writable({
        write: (chunk: Buffer, _e, cb) => {
          handle.write(chunk).then(() => cb(), cb);
        },
      });
      await this.stream(name, out, tap);
      await handle.sync();
      await handle.close();
      const got = hash.digest('hex');
      if (got !== sha256) {
        throw new HozironError('archive_invalid', `${name} from ${this.where} does not match its recorded checksum (sha256:${got})`);
      }
      await fs.rename(tmp, dest);
      await fsyncDir(dest.slice(0, dest.lastIndexOf('/')) || '/');
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name) }));
    } catch (err) {
      throw this.fail(err, `cannot delete ${name} from`);
    }
  }

  /** Abort one multipart upload; false when the store did not take it (still there). */
  async abortUpload(key: string, uploadId: string): Promise<boolean> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      return status === 404; // NoSuchUpload: already gone
    }
  }

  /**
   * Abort every unfinished multipart upload under the prefix for `name` (uploads of that
   * object that a dead process left). Callers hold the remote lock, so none is in progress.
   * A store that cannot list uploads is left to abort them by its lifecycle rules.
   */
  async abortAbandoned(name: string): Promise<number> {
    let listed;
    try {
      listed = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.keyOf(name) }));
    } catch {
      return 0;
    }
    let aborted = 0;
    for (const u of listed.Uploads ?? []) {
      if (u.Key === this.keyOf(name) && u.UploadId && (await this.abortUpload(u.Key, u.UploadId))) aborted++;
    }
    return aborted;
  }
}

/** Fill `buf` from the file at `offset` (a short read is retried; end of file is an error: the file changed). */
async function readExactly(handle: FileHandle, buf: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, offset + done);
    if (bytesRead === 0) throw new HozironError('archive_invalid', 'the archive became shorter while it was uploaded');
    done += bytesRead;
  }
}
