/** `hoziron completion bash|zsh|fish`: print a completion script for the shell (see cli/completion.ts). */
import { Argument, type Command } from 'commander';
import type { App } from '../app.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

export function registerCompletion(program: Command, app: App): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action((shell: Shell) => {
      app.stdout.write(completionScript(shell, program));
    });
}
