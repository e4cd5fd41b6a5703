/**
 * The keys a backup operation uses, from the loaded config: recipients to encrypt new
 * archives to, and the identity file to decrypt with (`--identity` over
 * `HOZIRON_BACKUP_IDENTITY` over `identity_file`). Identities are read from their file only
 * when an encrypted archive is actually opened, and never leave this process: a worker gets
 * recipients, never an identity.
 *
 * A passphrase (age's scrypt type) is set by a command for itself, never by config: to
 * encrypt one create to a path given by hand (then it is that archive's only recipient, as
 * age requires, and the configured recipients do not apply), or to decrypt with.
 */
import type { Identity, Recipient } from '../crypto/keys.js';
import { parseRecipient, readIdentityFile } from '../crypto/keys.js';
import type { Passphrase } from '../crypto/passphrase.js';
import type { LoadedConfig } from '../home/config.js';
import { resolve } from 'node:path';

export const PLAIN_SUFFIX = '.tar.gz';
export const ENCRYPTED_SUFFIX = '.tar.gz.age';

/** The configured recipients (validated when the config was loaded), or the one passphrase. */
export function archiveRecipients(cfg: LoadedConfig): Recipient[] {
  const passphrase = cfg.encryption.passphraseRecipient;
  if (passphrase) return [{ type: 'scrypt', passphrase }];
  return cfg.encryption.recipients.map((text) => parseRecipient(text)!);
}

/** Whether new archives are encrypted. */
export function encryptsArchives(cfg: LoadedConfig): boolean {
  return cfg.encryption.recipients.length > 0 || cfg.encryption.passphraseRecipient !== undefined;
}

/** `cfg` whose creates encrypt to `passphrase` alone. */
export function withPassphraseRecipient(cfg: LoadedConfig, passphrase: Passphrase): LoadedConfig {
  return { ...cfg, encryption: { ...cfg.encryption, passphraseRecipient: passphrase } };
}

/** `cfg` that decrypts with `passphrase` (and no identity file). */
export function withPassphraseIdentity(cfg: LoadedConfig, passphrase: Passphrase): LoadedConfig {
  return { ...cfg, encryption: { ...cfg.encryption, passphraseIdentity: passphrase, identityFile: undefined, identitySource: undefined } };
}

/** `cfg` with the identity file given on the command line, which wins over every other source. */
export function withIdentityFile(cfg: LoadedConfig, path: string | undefined): LoadedConfig {
  if (path === undefined) return cfg;
  return { ...cfg, encryption: { ...cfg.encryption, identityFile: resolve(path), identitySource: '--identity' } };
}

/**
 * The identities of the configured identity file (or the passphrase a command set), or
 * undefined when there is none. A file readable by group or others is used, with a warning.
 */
export async function loadIdentities(cfg: LoadedConfig, warn?: (message: string) => void): Promise<Identity[] | undefined> {
  const passphrase = cfg.encryption.passphraseIdentity;
  if (passphrase) return [{ type: 'scrypt', passphrase }];
  const path = cfg.encryption.identityFile;
  if (path === undefined) return undefined;
  const { identities, warning } = await readIdentityFile(path);
  if (warning) warn?.(warning);
  return identities;
}
