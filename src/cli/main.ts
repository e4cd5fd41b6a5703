/**
 * The CLI entry point (loaded by bin/hoziron). `hoziron --version` is answered before the
 * program and its dependencies (commander, zod, TOML, SQLite) are loaded, so it stays fast;
 * everything else goes through `runProgram`.
 */
import { HOZIRON_VERSION } from '../version.js';

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${HOZIRON_VERSION}\n`);
    return 0;
  }
  const { runProgram } = await import('./program.js');
  return runProgram(argv);
}
