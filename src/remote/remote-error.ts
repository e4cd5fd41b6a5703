/**
 * What went wrong talking to the remote store, as one line: which operation, which bucket,
 * and the store's answer in words (credentials refused, no such bucket, unreachable, HTTP 5xx,
 * too slow). Never the SDK's whole message, which may quote request details; never a credential.
 */
import { HozironError, errnoCode } from '../errors.js';

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'InvalidClientTokenId']);

function reasonOf(err: unknown, endpoint: string): { reason: string; hint: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: string;
    code?: string;
    Code?: string;
    $metadata?: { httpStatusCode?: number };
    message?: string;
  };
  const name = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const errno = errnoCode(err) ?? (NETWORK.has(name) ? name : undefined);
  const store = endpoint || 'the S3 endpoint';
  if (name === 'NoSuchBucket')
    return { reason: 'the bucket does not exist', hint: 'create the bucket, or fix backup.remote.url in config.toml' };
  if (CREDENTIALS.has(name) || name === 'AccessDenied' || status === 403) {
    return {
      reason: `the store refused the credentials (${name && name !== 'Unknown' && name !== 'Forbidden' ? name : `HTTP ${status ?? 403}`})`,
      hint: "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the home's .env (or the AWS credential chain) and the bucket's policy",
    };
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    return {
      reason: 'no credentials found',
      hint: "put AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the home's .env, or configure the AWS credential chain",
    };
  }
  if (errno !== undefined && errno !== 'ENOENT')
    return { reason: `cannot reach ${store} (${errno})`, hint: 'check that the store is up and reachable; the upload is retried' };
  if (name === 'TimeoutError' || name === 'RequestTimeout' || /timed? ?out/i.test(e.message ?? '')) {
    return { reason: `${store} did not answer in time`, hint: 'check the link to the store; the upload is retried' };
  }
  if (status !== undefined && status >= 500) {
    return {
      reason: `the store answered HTTP ${status}${name && !/^\d+$/.test(name) && name !== 'Unknown' ? ` (${name})` : ''}`,
      hint: 'the store is failing; the upload is retried',
    };
  }
  if (/socket hang up|aborted|premature close/i.test(e.message ?? '')) {
    return { reason: `the connection to ${store} broke`, hint: 'check that the store is up; the upload is retried' };
  }
  const first = (e.message ?? String(err)).split('\n')[0]!.slice(0, 160);
  return {
    reason: `${name ? `${name}: ` : ''}${first}${status ? ` (HTTP ${status})` : ''}`,
    hint: 'check backup.remote in config.toml and the store',
  };
}

/** `action` reads before the bucket: "cannot upload X to" s3://bucket/prefix. */
export function remoteError(err: unknown, action: string, where: string, endpoint: string): HozironError {
  if (err instanceof HozironError) return err;
  const { reason, hint } = reasonOf(err, endpoint);
  return new HozironError('remote', `${action} ${where}: ${reason}`, hint, { cause: err });
}
