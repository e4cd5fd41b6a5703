/**
 * Encrypted backups in the benchmark (SPEC §10): one identity made with `hoziron backup
 * keygen` for the run, and the home's config.toml switched between plain (as generated)
 * and encrypted (`[backup.encryption] recipients` holding that identity's recipient)
 * before each timed command, so plain and encrypted runs see the same home.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HomeLayout } from '../src/home/layout.js';
import { hasCommand, hozironSync } from './hoziron.js';

export interface BenchEncryption {
  identityFile: string;
  recipient: string;
}

/** A fresh identity in `work`; undefined when this build has no `backup keygen`. */
export function makeIdentity(work: string): BenchEncryption | undefined {
  if (!hasCommand('backup', 'keygen')) return undefined;
  const identityFile = join(work, 'bench-identity.txt');
  const out = hozironSync(['backup', 'keygen', '--output', identityFile]);
  const recipient = /age1[0-9a-z]+/.exec(out)?.[0];
  if (!recipient) throw new Error('backup keygen printed no recipient');
  return { identityFile, recipient };
}

/**
 * Write `home`'s config.toml as the pristine home's, plus the recipient when `enc` is given.
 * A restore replaces config.toml with the archive's, so this runs before every command.
 */
export function useEncryption(home: string, pristine: string, enc: BenchEncryption | undefined): void {
  const base = readFileSync(new HomeLayout(pristine).config, 'utf8');
  let text = base;
  if (enc) {
    // A home from `init` has the table with `recipients = []`; an older generated one has none.
    const table = /^\[backup\.encryption\][^[]*?^recipients\s*=.*$/m;
    text = table.test(base)
      ? base.replace(table, (t) => t.replace(/^recipients\s*=.*$/m, `recipients = ["${enc.recipient}"]`))
      : `${base}\n[backup.encryption]\nrecipients = ["${enc.recipient}"]\n`;
  }
  writeFileSync(new HomeLayout(home).config, text, { mode: 0o600 });
}
