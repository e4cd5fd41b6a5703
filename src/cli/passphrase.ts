/**
 * A command's passphrase (`--passphrase`, `--passphrase-file FILE`): from the file when one
 * is given, else from HOZIRON_BACKUP_PASSPHRASE, else asked on the terminal without echo
 * (twice for a new archive, as `age -p` does). Never from argv, never printed or logged;
 * without a terminal and without the other two it is refused in one line.
 */
import { Option, type Command } from 'commander';
import { HozironError } from '../errors.js';
import { checkedPassphrase, readPassphraseFile, type Passphrase } from '../crypto/passphrase.js';
import type { App } from './app.js';

export interface PassphraseFlags {
  passphrase?: boolean;
  passphraseFile?: string;
}

const PASSPHRASE_ENV = 'HOZIRON_BACKUP_PASSPHRASE';

/** The options that say how to decrypt an archive (verify, restore): an identity or a passphrase. */
export function addDecryptOptions(command: Command): Command {
  return command
    .option('--identity <file>', 'age identity file to decrypt an encrypted archive (else HOZIRON_BACKUP_IDENTITY, identity_file)')
    .addOption(
      new Option(
        '--passphrase',
        'decrypt an archive made with a passphrase (age -p): asked on the terminal, or HOZIRON_BACKUP_PASSPHRASE',
      ).conflicts('identity'),
    )
    .addOption(
      new Option('--passphrase-file <file>', 'like --passphrase, read from the first line of this file').conflicts([
        'identity',
        'passphrase',
      ]),
    );
}

/** Bytes typed after the end of one answer (both answers pasted at once), kept for the next prompt. */
let typedAhead = '';

/** One line from the terminal on stdin, not echoed; Ctrl-C or Ctrl-D on an empty line gives up. */
function askHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  return new Promise((resolve, reject) => {
    // Raw (and so echo off) before the prompt shows: nothing typed after it can be echoed.
    input.setRawMode(true);
    process.stderr.write(prompt);
    input.resume();
    let text = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const take = (chars: string): void => {
      const all = [...chars];
      for (let i = 0; i < all.length; i++) {
        const ch = all[i]!;
        if (ch === '\r' || ch === '\n') {
          typedAhead = all.slice(all[i + 1] === '\n' && ch === '\r' ? i + 2 : i + 1).join('');
          return finish();
        }
        if (ch === '\x03' || (ch === '\x04' && text === ''))
          return finish(new HozironError('usage', 'no passphrase was entered (interrupted)'));
        if (ch === '\x04') return finish();
        if (ch === '\x7f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
      }
    };
    const onData = (buf: Buffer) => take(buf.toString('utf8'));
    input.on('data', onData);
    const ahead = typedAhead;
    typedAhead = '';
    if (ahead !== '') take(ahead);
  });
}

async function askOnTerminal(confirm: boolean): Promise<Passphrase> {
  if (!process.stdin.isTTY) {
    throw new HozironError(
      'usage',
      `--passphrase needs a terminal to ask on, and stdin is not one (and ${PASSPHRASE_ENV} is not set)`,
      `set ${PASSPHRASE_ENV}, or pass --passphrase-file FILE (its first line is the passphrase)`,
    );
  }
  const first = await askHidden('Enter passphrase: ');
  const passphrase = checkedPassphrase(first, 'the terminal');
  if (confirm && (await askHidden('Confirm passphrase: ')) !== first) {
    throw new HozironError('usage', 'the two passphrases do not match; nothing was written');
  }
  return passphrase;
}

/**
 * The passphrase the flags ask for, or undefined when they ask for none. `confirm`: a new
 * archive's passphrase is asked twice on the terminal.
 */
export async function commandPassphrase(app: App, flags: PassphraseFlags, confirm: boolean): Promise<Passphrase | undefined> {
  if (flags.passphraseFile !== undefined) {
    const { passphrase, warning } = await readPassphraseFile(flags.passphraseFile);
    if (warning) app.warn(warning);
    return passphrase;
  }
  if (!flags.passphrase) return undefined;
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return checkedPassphrase(fromEnv, PASSPHRASE_ENV);
  return askOnTerminal(confirm);
}
