/**
 * The `backup` command group. Every `backup <sub>` command registers itself through
 * `backupCommand(program)`, which returns the group (creating it once), so each subcommand
 * (including `restore`, owned by the restore code) lives in its own file.
 */
import type { Command } from 'commander';

export function backupCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'backup');
  if (existing) return existing;
  return program.command('backup').description('create, list, show, verify, delete, prune and restore backups');
}
