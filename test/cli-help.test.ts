/**
 * Every command of the CLI, walked recursively from the real program: each has a description and an "Examples:"
 * section in its --help (CLI conventions), so a new command cannot ship without both.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/program.js';

function walk(command: Command, path: string[] = []): { path: string; command: Command }[] {
  const here = [...path, command.name()];
  return [{ path: here.join(' '), command }, ...command.commands.flatMap((c) => walk(c, here))];
}

/** The help text as `--help` prints it, with the text added after it ("Examples:" lives there). */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

describe('CLI help', () => {
  const program = buildProgram(['node', 'molecule']);
  const all = walk(program);

  it('walks the whole tree (the groups of this branch at least)', () => {
    const paths = new Set(all.map((c) => c.path));
    for (const p of ['molecule auth login', 'molecule workspace create', 'molecule secret set', 'molecule key rotate', 'molecule token revoke', 'molecule api']) {
      assert.ok(paths.has(p), `${p} is missing; found ${[...paths].join(', ')}`);
    }
  });

  it('every command and group has a description and an Examples: section with at least one example', () => {
    const missing: string[] = [];
    for (const { path, command } of all) {
      // Hidden commands (the shell completion's callback) are not part of the documented surface.
      if (command.name() === 'help' || (command as unknown as { _hidden?: boolean })._hidden) continue;
      if (!command.description().trim()) missing.push(`${path}: no description`);
      const help = helpOf(command);
      const examples = help.split('\nExamples:\n')[1];
      if (!examples || !/^\s+\$ molecule\b/m.test(examples)) missing.push(`${path}: no "Examples:" with a \`$ molecule …\` line`);
    }
    assert.deepEqual(missing, []);
  });
});
