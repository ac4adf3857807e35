#!/usr/bin/env node
// The `molecule` CLI's entry point: parse, run, print any failure once, exit with the table's code.
import { CommanderError } from 'commander';
import { CliError, EXIT, exitCodeFor } from './exit-codes.js';
import { Output } from './output.js';
import { buildProgram, wantsJson } from './program.js';

const out = new Output(wantsJson(process.argv));

process.on('SIGINT', () => {
  out.note('cancelled');
  process.exit(EXIT.CANCELLED);
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already explained by commander.
    if (err.exitCode === 0) process.exit(EXIT.OK);
    if (out.json) out.error(new CliError(err.message.replace(/^error: /, ''), EXIT.USAGE));
    process.exit(EXIT.USAGE);
  }
  out.error(err);
  process.exitCode = exitCodeFor(err);
}
