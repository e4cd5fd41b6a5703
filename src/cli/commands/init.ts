/** `hoziron init [--json]`: create (or complete) a home; prints the first admin token once. */
import type { Command } from 'commander';
import { HozironError } from '../../errors.js';
import type { App } from '../app.js';
import { cliHint } from '../hints.js';
import type { InitResult } from '../../admin/init.js';

function renderInit(r: InitResult): string[] {
  const tightened = r.root_mode_tightened_from
    ? [`Tightened the mode of ${r.home} from ${r.root_mode_tightened_from} to 0700 (the home holds secrets).`]
    : [];
  if (!r.created) {
    const lines = [
      r.root_mode_tightened_from
        ? `Hoziron home at ${r.home} is already initialised; nothing else changed.`
        : `Hoziron home at ${r.home} is already initialised; nothing changed.`,
      ...tightened,
    ];
    if (r.missing.length > 0) {
      lines.push(
        `warning: missing from this home: ${r.missing.join(', ')}`,
        'An initialised home is never altered by init (a missing audit.db must not be silently replaced).',
        'Restore the missing pieces from a backup (`hoziron backup restore`), or, to create them afresh,',
        'move config.toml aside, run `hoziron init` again (it creates only what is missing) and put your config.toml back.',
      );
    }
    return lines;
  }
  const lines = [
    r.resumed
      ? `Completed the Hoziron home at ${r.home} (created: ${r.created_paths.join(', ')}).`
      : `Created a Hoziron home at ${r.home}.`,
    ...tightened,
  ];
  if (r.admin_key) {
    lines.push(
      '',
      'Admin API key (shown once: store it now, it cannot be shown again):',
      `  id:    ${r.admin_key.id}`,
      `  role:  ${r.admin_key.role}`,
      `  token: ${r.admin_key.token}`,
      '',
      'Next: hoziron backup create',
    );
  } else {
    lines.push(
      'keys.db already existed, so no admin key was minted.',
      'If you do not hold an admin token for it, run `hoziron key create --role admin`.',
    );
  }
  return lines;
}

export function registerInit(program: Command, app: App): void {
  program
    .command('init')
    .description('create a Hoziron home (config, .env, keys, audit trail, memory database); prints the first admin token once')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const home = await app.runPreflights();
      const { initHome } = await import('../../admin/init.js');
      const r = await initHome(home);
      if (!r.created) {
        // An initialised home is never changed, but its config is still checked: init must
        // not report a home as fine whose every other command would refuse its config.
        try {
          app.config();
        } catch (err) {
          if (err instanceof HozironError) {
            throw new HozironError(
              err.code,
              err.message,
              `${home.root} is initialised and init changed nothing; ${cliHint(err) ?? 'fix config.toml'}`,
            );
          }
          throw err;
        }
      }
      if (opts.json) {
        const key = r.admin_key && { id: r.admin_key.id, role: r.admin_key.role, token: r.admin_key.token };
        app.printJson(
          r.created
            ? {
                home: r.home,
                created: true,
                resumed: r.resumed,
                created_paths: r.created_paths,
                admin_key: key,
                root_mode_tightened_from: r.root_mode_tightened_from,
              }
            : { home: r.home, created: false, missing: r.missing, root_mode_tightened_from: r.root_mode_tightened_from },
        );
      } else {
        app.print(renderInit(r));
      }
    });
}
