/**
 * The CLI's words for a core error's `remedy` (src/errors.ts): the flag or command that
 * does it. Core code never names one, so the same error can reach an API client, whose
 * words are in daemon/http-errors.ts. Without a remedy, or one the CLI has no words for,
 * the core's neutral hint is shown.
 */
import type { HozironError, Remedy } from '../errors.js';

type Details = HozironError['details'];

const CLI_REMEDIES: Record<Remedy, (d: Details) => string> = {
  init_home: () => 'run `hoziron init` first, or pass --home',
  check_home: () => 'run `hoziron doctor` to check the home and its databases',
  list_backups: () => 'run `hoziron backup list` to see the ids',
  list_keys: () => 'see `hoziron key list`',
  skip_checksum: () =>
    'pass --checksum sha256:<hex> with the checksum published where the archive came from, or --no-verify to skip the whole-archive checksum (every entry is still checked)',
  give_identity: () =>
    'pass --identity FILE, set HOZIRON_BACKUP_IDENTITY, or set [backup.encryption] identity_file (an archive made with a passphrase: --passphrase)',
  give_passphrase: () => 'pass --passphrase (asked on the terminal, or read from HOZIRON_BACKUP_PASSPHRASE) or --passphrase-file FILE',
  stop_daemon: () => 'run the restore again (with the daemon running it goes through the daemon), or `hoziron stop` first',
  daemon_owns_home: () => 'stop it with `hoziron stop`, or use another --home',
  wait_for_stop: (d) => `see ${d.log}; wait longer with --timeout, or ${d.last_resort ?? `kill -9 ${d.pid} as a last resort`}`,
  other_output: () => 'choose another --output path',
  daemon_status: (d) => `see \`hoziron status\` and ${d.log ?? 'run/daemon.log'}`,
  start_daemon: () => 'start it with `hoziron start`',
  create_backup: () => 'run `hoziron backup create`',
  tighten_home: () => 'run `hoziron init`, which makes the home directory 0700, or chmod 700 it',
  send_token: () => 'create a key with `hoziron key create` and send Authorization: Bearer <token>',
  free_space: (d) =>
    d.path ? `free some space on the filesystem of ${d.path} (see \`df ${d.path}\`) and try again` : 'free some space and try again',
  check_access: (d) => `make ${d.path ?? 'it'} writable by this user (is it mounted read-only?), or point [backup] storage_path elsewhere`,
};

/** What to tell a CLI user to do about `remedy`. */
export function cliRemedy(remedy: Remedy, details: Details = {}): string {
  return CLI_REMEDIES[remedy](details);
}

/** The hint line the CLI prints for `err`, if any. */
export function cliHint(err: HozironError): string | undefined {
  return err.remedy ? cliRemedy(err.remedy, err.details) : err.hint;
}
