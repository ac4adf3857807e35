import { Command, type Option } from 'commander';
import { action, examples } from '../command.js';
import { CliError, EXIT } from '../exit-codes.js';

/**
 * Shell completion: each shell's script is a thin shim that asks the CLI itself (`molecule __complete <words…>`), so
 * completions always match the installed version's commands and options — nothing is listed twice.
 */
const SCRIPTS: Record<string, string> = {
  bash: `# molecule completion for bash: eval "$(molecule completion bash)"
_molecule_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$(molecule __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -o default -F _molecule_complete molecule
`,
  zsh: `#compdef molecule
# molecule completion for zsh: molecule completion zsh > "\${fpath[1]}/_molecule"
_molecule() {
  local -a candidates
  candidates=("\${(@f)$(molecule __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
compdef _molecule molecule
`,
  fish: `# molecule completion for fish: molecule completion fish > ~/.config/fish/completions/molecule.fish
complete -c molecule -f -a '(molecule __complete -- (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
};

function optionNames(command: Command): string[] {
  const options = [...command.options, ...(command.parent ? globalOptions(command) : [])] as Option[];
  return options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x)));
}

function globalOptions(command: Command): Option[] {
  let root = command;
  while (root.parent) root = root.parent;
  return root.options as Option[];
}

/** The candidates for the last word given the words before it. */
export function completeWords(program: Command, words: string[]): string[] {
  const current = words[words.length - 1] ?? '';
  let command = program;
  for (const word of words.slice(0, -1)) {
    if (word.startsWith('-')) continue;
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub) command = sub;
  }
  const candidates = current.startsWith('-')
    ? optionNames(command)
    : command.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden && c.name() !== '__complete').map((c) => c.name());
  return candidates.filter((c) => c.startsWith(current)).sort();
}

export function register(program: Command): void {
  examples(
    program
      .command('completion')
      .description('print the shell completion script for bash, zsh or fish')
      .argument('<shell>', 'bash | zsh | fish')
      .action(
        action(async (ctx, shell: string) => {
          const script = SCRIPTS[shell];
          if (!script) throw new CliError(`unknown shell "${shell}" — bash, zsh or fish`, EXIT.USAGE);
          ctx.out.stdout.write(script);
        }),
      ),
    ['eval "$(molecule completion bash)"', 'molecule completion zsh > "${fpath[1]}/_molecule"', 'molecule completion fish > ~/.config/fish/completions/molecule.fish'],
  );
  program
    .command('__complete', { hidden: true })
    .description('completion candidates for the given words (used by the completion scripts)')
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action((words: string[]) => {
      process.stdout.write(`${completeWords(program, words.length ? words : ['']).join('\n')}\n`);
    });
}
