import { describe, expect, it } from 'vitest';
import { cliHint } from '../../src/cli/hints.js';
import { HozironError, type Remedy } from '../../src/errors.js';
import { errorBody } from '../../src/daemon/http-errors.js';

/** Every remedy core code can attach (a type-checked list: a new one must be added here). */
const REMEDIES = {
  init_home: true,
  check_home: true,
  list_backups: true,
  list_keys: true,
  skip_checksum: true,
  give_identity: true,
  give_passphrase: true,
  stop_daemon: true,
  daemon_owns_home: true,
  wait_for_stop: true,
  other_output: true,
  daemon_status: true,
  start_daemon: true,
  create_backup: true,
  send_token: true,
  tighten_home: true,
  free_space: true,
  check_access: true,
} satisfies Record<Remedy, true>;

const CLI_WORDS = /--[a-z]|`hoziron [a-z]|\bhoziron (init|start|stop|status|doctor|backup|key|audit)\b/;

describe('error hints per surface', () => {
  for (const remedy of Object.keys(REMEDIES) as Remedy[]) {
    const err = new HozironError('conflict', 'something went wrong', 'a neutral hint', {
      remedy,
      details: { pid: 42, log: '/h/run/daemon.log' },
    });

    it(`an API error with remedy ${remedy} names no CLI flag or command`, () => {
      const body = errorBody(err);
      expect(body.error.hint).toBeTruthy();
      expect(JSON.stringify(body)).not.toMatch(CLI_WORDS);
    });

    it(`the CLI phrases remedy ${remedy} in its own words`, () => {
      expect(cliHint(err)).toBeTruthy();
      expect(cliHint(err)).not.toContain('undefined');
    });
  }

  it('tells an API client to send "verify": false, and a CLI user to pass --no-verify', () => {
    const err = new HozironError('archive_invalid', 'a.tar.gz: no checksum sidecar', 'neutral', { remedy: 'skip_checksum' });
    expect(errorBody(err).error.hint).toMatch(/"verify": false/);
    expect(cliHint(err)).toMatch(/--no-verify/);
  });

  it('an error without a remedy keeps its hint on both surfaces', () => {
    const err = new HozironError('io', 'disk on fire', 'put it out');
    expect(errorBody(err).error.hint).toBe('put it out');
    expect(cliHint(err)).toBe('put it out');
  });
});
