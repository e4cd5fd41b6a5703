/**
 * Shell completion scripts, generated from the program's own commander metadata (its
 * commands, their options and descriptions), so a new command or flag completes without
 * anyone editing a script. Bash gets a small function over a table of command paths; zsh
 * loads that same function through its bash compatibility layer (bashcompinit); fish gets
 * its native `complete` lines. Options that take a value complete file names.
 */
import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** Space-separated command path below the program ("" for the program itself). */
  path: string;
  command: Command;
}

function nodes(program: Command): Node[] {
  const out: Node[] = [];
  const walk = (cmd: Command, path: string) => {
    out.push({ path, command: cmd });
    for (const sub of cmd.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return out;
}

/** Fixed values of a command's arguments (`completion <shell>`: bash, zsh, fish). */
function argumentChoices(cmd: Command): string[] {
  return cmd.registeredArguments.flatMap((a) => a.argChoices ?? []);
}

function optionNames(cmd: Command): string[] {
  const opts: Option[] = [...cmd.options];
  const names = opts.flatMap((o) => [o.long, o.short].filter((n): n is string => typeof n === 'string'));
  return [...names, '--help'];
}

/** Options that take a value, e.g. `--home <dir>` (their next word is a file name or a number). */
function valueOptions(program: Command): string[] {
  const all = nodes(program).flatMap((n) => n.command.options.filter((o) => o.required || o.optional));
  return [...new Set(all.flatMap((o) => [o.long, o.short].filter((n): n is string => typeof n === 'string')))];
}

/** Single-quoted for sh and fish: no expansion inside. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function bashFunction(program: Command): string {
  const all = nodes(program);
  const words = all.map(
    (n) =>
      `    ${quote(n.path)}) echo ${quote([...n.command.commands.map((c) => c.name()), ...argumentChoices(n.command), ...optionNames(n.command)].join(' '))} ;;`,
  );
  const subs = all
    .filter((n) => n.command.commands.length > 0)
    .map((n) => `    ${quote(n.path)}) echo ${quote(n.command.commands.map((c) => c.name()).join(' '))} ;;`);
  const name = program.name();
  return `_${name}_words() {
  case "$1" in
${words.join('\n')}
  esac
}

_${name}_subcommands() {
  case "$1" in
${subs.join('\n')}
  esac
}

_${name}() {
  local cur prev path word i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case " ${valueOptions(program).join(' ')} " in
    *" $prev "*) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
  esac
  path=""
  for (( i = 1; i < COMP_CWORD; i++ )); do
    word="\${COMP_WORDS[i]}"
    case " $(_${name}_subcommands "$path") " in
      *" $word "*) path="\${path:+$path }$word" ;;
    esac
  done
  COMPREPLY=( $(compgen -W "$(_${name}_words "$path")" -- "$cur") )
}
complete -F _${name} ${name}
`;
}

function fishScript(program: Command): string {
  const name = program.name();
  const lines = [`# ${name} completion for fish: ${name} completion fish | source`, `complete -c ${name} -f`];
  for (const n of nodes(program)) {
    const parts = n.path === '' ? [] : n.path.split(' ');
    const siblings = n.command.commands.map((c) => c.name());
    // The command path so far has been typed, and none of this level's subcommands yet.
    const seen = parts.map((p) => `__fish_seen_subcommand_from ${p}`);
    const here = [...seen, ...(siblings.length > 0 ? [`not __fish_seen_subcommand_from ${siblings.join(' ')}`] : [])];
    const cond = here.length > 0 ? here.join('; and ') : '__fish_use_subcommand';
    for (const choice of argumentChoices(n.command)) lines.push(`complete -c ${name} -n ${quote(cond)} -a ${choice}`);
    for (const sub of n.command.commands) {
      lines.push(`complete -c ${name} -n ${quote(cond)} -a ${sub.name()} -d ${quote(sub.description())}`);
    }
    for (const o of n.command.options) {
      const flags = [o.long ? `-l ${o.long.slice(2)}` : '', o.short ? `-s ${o.short.slice(1)}` : ''].filter(Boolean).join(' ');
      const value = o.required || o.optional ? ' -r -F' : '';
      lines.push(`complete -c ${name} -n ${quote(cond)} ${flags}${value} -d ${quote(o.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, program: Command): string {
  const name = program.name();
  switch (shell) {
    case 'bash':
      return `# ${name} completion for bash: source <(${name} completion bash)\n${bashFunction(program)}`;
    case 'zsh':
      return `# ${name} completion for zsh: source <(${name} completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bashFunction(program)}`;
    case 'fish':
      return fishScript(program);
  }
}
