import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { App } from '../../src/cli/app.js';
import { buildProgram } from '../../src/cli/program.js';
import { REPO_ROOT } from '../support/cli.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The product's commands, exactly (docs/operations.md and the README's table). */
const SPEC_COMMANDS = [
  'init',
  'start',
  'stop',
  'status',
  'health',
  'doctor',
  'backup create',
  'backup list',
  'backup show',
  'backup verify',
  'backup delete',
  'backup prune',
  'backup restore',
  'backup keygen',
  'key create',
  'key list',
  'key revoke',
  'audit verify',
  'audit tail',
];

function readmeRows(): string[] {
  return [...README.matchAll(/^\| `hoziron ([a-z]+(?: [a-z]+)?)/gm)].map((m) => m[1]!);
}

function registered(): string[] {
  const program = buildProgram(new App(() => undefined));
  const names: string[] = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length > 0) walk(sub, `${name} `);
      else names.push(name);
    }
  };
  walk(program, '');
  return names;
}

describe('README', () => {
  it('opens with the two commands a newcomer runs', () => {
    expect(README).toContain('npm install && bin/hoziron init && bin/hoziron backup create');
    expect(README).toMatch(/^npm test\b/m);
  });

  it('has a row for every command the product promises', () => {
    expect(readmeRows()).toEqual(expect.arrayContaining(SPEC_COMMANDS));
  });

  it('has a row for every command the CLI registers', () => {
    expect(readmeRows()).toEqual(expect.arrayContaining(registered()));
  });
});
