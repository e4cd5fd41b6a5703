/** `hoziron key create|list|revoke`: manage the API keys that authenticate the daemon's API. */
import type { Command } from 'commander';
import type { App } from '../app.js';
import { formatTime, renderTable } from '../format.js';

export function registerKey(program: Command, app: App): void {
  const key = program.command('key').description('manage API keys (tokens are shown once, at creation)');

  key
    .command('create')
    .description('create an API key and print its token once')
    .requiredOption('--role <role>', 'admin, operator or viewer')
    .option('--name <name>', 'a label for the key')
    .option('--json', 'print one JSON document')
    .action(async (opts: { role: string; name?: string; json?: boolean }) => {
      const { checkRole, createApiKey } = await import('../../admin/key-admin.js');
      checkRole(opts.role);
      const { home } = await app.open();
      const k = createApiKey(home, opts.role, opts.name, 'cli');
      if (opts.json) {
        app.printJson({ id: k.id, name: k.name, role: k.role, token: k.token });
      } else {
        app.print([
          `Created ${k.role} key ${k.id} (${k.name}).`,
          'Token (shown once: store it now, it cannot be shown again):',
          `  ${k.token}`,
        ]);
      }
    });

  key
    .command('list')
    .description('list API keys (never shows tokens)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const { listApiKeys } = await import('../../admin/key-admin.js');
      const { home } = await app.open();
      const keys = listApiKeys(home);
      if (opts.json) {
        app.printJson(keys);
        return;
      }
      if (keys.length === 0) {
        app.print('No API keys.');
        return;
      }
      const when = (t: string | null) => (t ? formatTime(t) : '-');
      app.print(
        renderTable(
          ['ID', 'ROLE', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'],
          keys.map((k) => [k.id, k.role, k.name, when(k.created_at), when(k.last_used_at), when(k.revoked_at)]),
        ),
      );
    });

  key
    .command('revoke')
    .description('revoke an API key; its token stops working at once')
    .argument('<id>', 'key id (see `hoziron key list`)')
    .option('--json', 'print one JSON document')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { revokeApiKey } = await import('../../admin/key-admin.js');
      const { home } = await app.open();
      const { key: k, changed } = revokeApiKey(home, id, 'cli');
      if (opts.json) app.printJson({ ...k, changed });
      else app.print(changed ? `Revoked key ${k.id} (${k.role}, ${k.name}).` : `Key ${k.id} was already revoked; nothing changed.`);
    });
}
