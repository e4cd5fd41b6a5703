import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { renderDefaultConfig, validateConfig } from '../../src/home/config.js';
import { HomeLayout } from '../../src/home/layout.js';
import { HozironError } from '../../src/errors.js';
import { generateIdentity } from '../../src/crypto/keys.js';

const home = new HomeLayout('/srv/hoziron');

function load(text: string) {
  return validateConfig(parse(text), '/srv/hoziron/config.toml', home);
}

function problem(text: string): string {
  try {
    load(text);
  } catch (err) {
    expect(err).toBeInstanceOf(HozironError);
    expect((err as HozironError).message).not.toContain('\n');
    return (err as HozironError).message;
  }
  throw new Error('expected the config to be refused');
}

describe('config validation', () => {
  it('accepts the default config that init writes, with the documented defaults', () => {
    const cfg = load(renderDefaultConfig());
    expect(cfg.warnings).toEqual([]);
    expect(cfg.config.backup).toEqual({
      schedule: '0 2 * * *',
      retention: 7,
      storage_path: '',
      backup_on_shutdown: false,
      encryption: { recipients: [], recipients_file: '', identity_file: '' },
      remote: {
        url: '',
        endpoint: '',
        region: 'us-east-1',
        force_path_style: false,
        retention: 30,
        require_encryption: true,
        object_lock_days: 0,
      },
    });
    expect(cfg.storageDir).toBe('/srv/hoziron/backups');
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 4200 });
    expect(cfg.encryption).toEqual({ recipients: [], identityFile: undefined, identitySource: undefined });
  });

  it('refuses an encryption recipient that is not one, naming the key, and never repeats a secret key', () => {
    const id = generateIdentity();
    const secret = id.fileText.trim().split('\n').pop()!;
    expect(problem(`[backup.encryption]\nrecipients = ["${id.recipient}", "age1nope"]`)).toMatch(
      /config\.toml: backup\.encryption\.recipients\[1\]: expected an age X25519 recipient \(age1…\), found "age1nope"$/,
    );
    for (const text of [`recipients = ["${secret}"]`, `identity_file = "${secret}"`]) {
      const message = problem(`[backup.encryption]\n${text}`);
      expect(message).toMatch(/found a secret key/);
      expect(message).not.toContain(secret.slice(20));
    }
    const cfg = load(`[backup.encryption]\nrecipients = ["${id.recipient}"]\nidentity_file = "keys/backup.txt"`);
    expect(cfg.encryption).toEqual({
      recipients: [id.recipient],
      identityFile: '/srv/hoziron/keys/backup.txt',
      identitySource: '/srv/hoziron/config.toml: backup.encryption.identity_file',
    });
    const fromEnv = validateConfig(parse('[backup.encryption]\nidentity_file = "a.txt"'), 'c.toml', home, {
      HOZIRON_BACKUP_IDENTITY: '/keys/b.txt',
    });
    expect(fromEnv.encryption.identityFile).toBe('/keys/b.txt');
  });

  it.each([
    ['[backup]\nretention = "seven"', /config\.toml: backup\.retention: expected an integer, found "seven"$/],
    ['[backup]\nretention = 0', /backup\.retention: expected an integer of at least 1, found 0/],
    ['[backup]\nretention = 2.5', /backup\.retention: expected an integer, found 2\.5/],
    ['[backup]\nschedule = "61 * * * *"', /backup\.schedule: expected a valid cron expression/],
    ['[backup]\nbackup_on_shutdown = "yes"', /backup\.backup_on_shutdown: expected a boolean, found "yes"/],
    ['[server]\nlisten = "localhost"', /server\.listen: expected host:port, found "localhost"/],
    ['[server]\nlisten = "127.0.0.1:70000"', /server\.listen: expected a port of at most 65535, found 70000/],
    ['server = 3', /server: expected a table, found 3/],
  ])('refuses %j with one line naming the key, the expectation and the value', (text, message) => {
    expect(problem(text)).toMatch(message);
  });

  it('checks [backup.remote] at load: the url, an endpoint without credentials in it, the numbers; unknown keys warned', () => {
    const cfg = load(
      '[backup.remote]\nurl = "s3://my-bucket/site/a"\nendpoint = "http://127.0.0.1:9000"\nforce_path_style = true\nretention = 5\n',
    );
    expect(cfg.config.backup.remote).toMatchObject({
      url: 's3://my-bucket/site/a',
      retention: 5,
      require_encryption: true,
      object_lock_days: 0,
    });
    expect(problem('[backup.remote]\nurl = "https://my-bucket/x"\n')).toBe(
      '/srv/hoziron/config.toml: backup.remote.url: expected s3://bucket/prefix (a bucket name of 3-63 lowercase letters, digits, dots and hyphens), or "" for no remote, found "https://my-bucket/x"',
    );
    expect(problem('[backup.remote]\nurl = "s3://My_Bucket"\n')).toMatch(
      /^\/srv\/hoziron\/config.toml: backup.remote.url: expected s3:\/\/bucket\/prefix/,
    );
    // An endpoint with a user and password in it is refused: credentials never live in config.toml.
    const withSecret = problem('[backup.remote]\nendpoint = "http://AKIA:secret@127.0.0.1:9000"\n');
    expect(withSecret).toMatch(/^\/srv\/hoziron\/config.toml: backup.remote.endpoint: expected an http\(s\) URL without user or password/);
    expect(withSecret).toMatch(/found a URL with a user or password in it \(not repeated here\)$/);
    expect(withSecret).not.toContain('secret@');
    expect(problem('[backup.remote]\nretention = 0\n')).toBe(
      '/srv/hoziron/config.toml: backup.remote.retention: expected an integer of at least 1, found 0',
    );
    expect(problem('[backup.remote]\nrequire_encryption = "no"\n')).toBe(
      '/srv/hoziron/config.toml: backup.remote.require_encryption: expected a boolean, found "no"',
    );
    expect(problem('[backup.remote]\nregion = "US East"\n')).toMatch(/backup\.remote\.region: expected a region name such as us-east-1/);
    expect(load('[backup.remote]\naccess_key = "x"\n').warnings).toEqual([
      '/srv/hoziron/config.toml: unknown key backup.remote.access_key is ignored',
    ]);
  });

  it('warns about unknown keys and sections rather than dropping them silently', () => {
    const cfg = load('tuning = 1\n[backup]\nretension = 3\n[extras]\nx = 1');
    expect(cfg.warnings).toEqual([
      '/srv/hoziron/config.toml: unknown key tuning is ignored',
      '/srv/hoziron/config.toml: unknown key backup.retension is ignored',
      '/srv/hoziron/config.toml: unknown key extras is ignored',
    ]);
  });

  it('resolves a relative storage_path against the home', () => {
    expect(load('[backup]\nstorage_path = "archives"').storageDir).toBe('/srv/hoziron/archives');
    expect(load('[backup]\nstorage_path = "/mnt/b"').storageDir).toBe('/mnt/b');
  });

  describe('HOZIRON_LISTEN', () => {
    const file = '/srv/hoziron/config.toml';
    const withEnv = (text: string, env: NodeJS.ProcessEnv) => validateConfig(parse(text), file, home, env);

    it('overrides server.listen from config.toml, and says so', () => {
      const cfg = withEnv(renderDefaultConfig(), { HOZIRON_LISTEN: '0.0.0.0:8080' });
      expect(cfg.listen).toEqual({ host: '0.0.0.0', port: 8080 });
      expect(cfg.listenSource).toBe('HOZIRON_LISTEN');
      // The file's own value is what the config says; only the effective address changes.
      expect(cfg.config.server.listen).toBe('127.0.0.1:4200');
      expect(withEnv('', { HOZIRON_LISTEN: '[::]:9' }).listen).toEqual({ host: '::', port: 9 });
    });

    it('leaves server.listen in force when unset or empty', () => {
      for (const env of [{}, { HOZIRON_LISTEN: '' }]) {
        const cfg = withEnv('[server]\nlisten = "127.0.0.2:7000"', env);
        expect(cfg.listen).toEqual({ host: '127.0.0.2', port: 7000 });
        expect(cfg.listenSource).toBe('server.listen');
      }
    });

    it.each([
      ['localhost', /^HOZIRON_LISTEN: expected host:port, found "localhost"$/],
      ['0.0.0.0:70000', /^HOZIRON_LISTEN: expected a port of at most 65535, found 70000$/],
      [' 0.0.0.0:80', /^HOZIRON_LISTEN: expected host:port, found " 0.0.0.0:80"$/],
    ])('refuses %j with one line naming the variable', (value, message) => {
      let caught: unknown;
      try {
        withEnv(renderDefaultConfig(), { HOZIRON_LISTEN: value });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(HozironError);
      expect((caught as HozironError).code).toBe('config_invalid');
      expect((caught as HozironError).message).toMatch(message);
      expect((caught as HozironError).hint).toMatch(/HOZIRON_LISTEN/);
    });

    it('does not hide a bad server.listen in config.toml behind a good variable', () => {
      expect(() => withEnv('[server]\nlisten = "localhost"', { HOZIRON_LISTEN: '0.0.0.0:1' })).toThrow(
        /config\.toml: server\.listen: expected host:port, found "localhost"/,
      );
    });
  });
});
