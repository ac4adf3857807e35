import { InvalidArgumentError, type Command } from 'commander';
import { contextOf, type CliContext } from './context.js';

/**
 * Wraps a command's handler: builds the context from the global options and passes the positional arguments and the
 * command's own options. Errors propagate to main.ts, which prints them and picks the exit code.
 */
export function action<A extends unknown[]>(fn: (ctx: CliContext, ...args: A) => Promise<void>): (...raw: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command;
    await fn(contextOf(command), ...(raw.slice(0, -1) as A));
  };
}

/** Adds an "Examples:" section to a command's --help (every command has one; the help test checks it). */
export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** A commander argument parser for positive integers (`--limit 50`), with a usage error naming the option. */
export function positiveInt(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(value);
  };
}
