/**
 * Credentials for the remote store. The home's `.env` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * optional AWS_SESSION_TOKEN) wins when it holds both keys: it is this home's own secret file
 * (0600), and a restore brings it back with the rest. Otherwise the SDK's default chain decides
 * (environment, shared files, SSO, container and instance roles). Values never leave this
 * module except into the SDK client: not into logs, errors or records.
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

export interface RemoteCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The credentials in the home's `.env`, or undefined to use the SDK's chain. */
export function credentialsFromEnvFile(envFile: string): RemoteCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch {
    return undefined;
  }
  const vars = parseEnv(text);
  const accessKeyId = vars.AWS_ACCESS_KEY_ID;
  const secretAccessKey = vars.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = vars.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
