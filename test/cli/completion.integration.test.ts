import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/cli.js';

const t = tempDir('hoziron-completion-');
afterAll(() => t.cleanup());

function has(shell: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
}

function script(shell: string): string {
  const r = runCli(['completion', shell]);
  expect(r.code, r.stderr).toBe(0);
  const file = join(t.dir, `hoziron.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** What bash completes for the words of `line` (the last one being typed), through the script's own function. */
function bashComplete(file: string, words: string[]): string[] {
  const driver = `source ${JSON.stringify(file)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
_hoziron
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', driver], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

describe('hoziron completion', () => {
  it('prints a bash script that parses (bash -n) and completes `hoziron backup cr` to create', () => {
    const file = script('bash');
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    expect(bashComplete(file, ['hoziron', 'backup', 'cr'])).toEqual(['create']);
    expect(bashComplete(file, ['hoziron', 'key', 'cr'])).toEqual(['create']);
    expect(bashComplete(file, ['hoziron', 'ba'])).toEqual(['backup']);
    expect(bashComplete(file, ['hoziron', '--home', '/tmp/h', 'backup', 'create', '--ag'])).toEqual(['--agents-only']);
    expect(bashComplete(file, ['hoziron', 'completion', 'f'])).toEqual(['fish']);
  });

  it.skipIf(!has('zsh'))('prints a zsh script that parses (zsh -n)', () => {
    const r = spawnSync('zsh', ['-n', script('zsh')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it.skipIf(!has('fish'))('prints a fish script that parses (fish -n) and completes `hoziron backup cr` to create', () => {
    const file = script('fish');
    const parsed = spawnSync('fish', ['-n', file], { encoding: 'utf8' });
    expect(parsed.status, parsed.stderr).toBe(0);
    const r = spawnSync('fish', ['-c', `source ${file}; complete -C 'hoziron backup cr'`], { encoding: 'utf8' });
    expect(r.stdout.split('\n')[0]).toMatch(/^create\t/);
  });

  it('refuses a shell it does not know, as bad usage (exit 2)', () => {
    const r = runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bash, zsh, fish/);
  });
});
