/**
 * The CLI program: builds the commander program, runs one command and turns any error
 * into the convention of docs/operations.md#exit-codes (`error:` and optional `hint:` on
 * stderr, the hint in the CLI's words: cli/hints.ts; exit 2 for bad usage, 1 otherwise;
 * a stack trace only with HOZIRON_DEBUG=1).
 */
import { Command, CommanderError } from 'commander';
import { exitCodeFor, isHozironError } from '../errors.js';
import { printableLine } from '../printable.js';
import { HOZIRON_VERSION } from '../version.js';
import { existsSync } from 'node:fs';
import type { HomeLayout } from '../home/layout.js';
import { App } from './app.js';
import { COMMANDS } from './commands/index.js';
import { cliHint } from './hints.js';

export function buildProgram(app: App): Command {
  const program = new Command('hoziron')
    .description('Back up, list, verify and restore a Hoziron home; run the Hoziron daemon.')
    .version(HOZIRON_VERSION, '-V, --version')
    .option('--home <dir>', 'Hoziron home directory (default: $HOZIRON_HOME or ~/.hoziron)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => app.stdout.write(s),
      // Commander's own messages already start with "error:".
      writeErr: (s) => app.stderr.write(s),
    });
  for (const register of COMMANDS) register(program, app);
  // Subcommands inherit the error handling of the program.
  const walk = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => app.stdout.write(s), writeErr: (s) => app.stderr.write(s) });
    cmd.commands.forEach(walk);
  };
  program.commands.forEach(walk);
  return program;
}

/** Finish or roll back an interrupted restore before any command opens the home. */
async function recoverRestore(home: HomeLayout): Promise<void> {
  // Fast path: no work area, nothing to recover (and SQLite is not even loaded).
  if (!existsSync(home.restoreDir)) return;
  const { recoverInterruptedRestore } = await import('../backup/journal.js');
  await recoverInterruptedRestore(home);
  // A committed restore whose safety backup's finisher died: made now, from the state it moved aside.
  const { recoverPendingSafety } = await import('../backup/safety-point.js');
  await recoverPendingSafety(home);
}

function report(app: App, err: unknown): void {
  // One line each, whatever the message holds (it may quote an archive's names).
  if (isHozironError(err)) {
    app.stderr.write(`error: ${printableLine(err.message)}\n`);
    const hint = cliHint(err);
    if (hint) app.stderr.write(`hint: ${printableLine(hint)}\n`);
  } else {
    const message = err instanceof Error ? err.message : String(err);
    app.stderr.write(`error: ${printableLine(message)}\n`);
  }
  if (process.env.HOZIRON_DEBUG === '1' && err instanceof Error && err.stack) {
    app.stderr.write(`${err.stack}\n`);
  }
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runProgram(argv: string[]): Promise<number> {
  let program: Command | undefined;
  const app = new App(() => program?.opts<{ home?: string }>().home);
  app.addPreflight(recoverRestore);
  program = buildProgram(app);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    report(app, err);
    return exitCodeFor(err);
  }
}
