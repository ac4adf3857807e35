import * as prompts from '@clack/prompts';
import type { CliContext } from './context.js';
import { CliError, EXIT } from './exit-codes.js';

function cancelled(value: unknown): never | void {
  if (prompts.isCancel(value)) throw new CliError('cancelled', EXIT.CANCELLED);
}

/**
 * Destructive commands confirm by typing the resource's name on a terminal, and need `--yes` anywhere else (a script
 * must say it means it; a prompt nobody can answer would hang it).
 */
export async function confirmByName(ctx: CliContext, what: string, name: string): Promise<void> {
  if (ctx.yes) return;
  if (!ctx.out.interactive) {
    throw new CliError(`refusing to ${what} without confirmation: pass --yes (no terminal to ask on)`, EXIT.USAGE, 'CONFIRMATION_REQUIRED');
  }
  const answer = await prompts.text({
    message: `This will ${what}. Type ${name} to confirm`,
    validate: (v) => (v === name ? undefined : `type ${name} exactly`),
  });
  cancelled(answer);
}

/** A yes/no question on a terminal; `--yes` answers yes; without a terminal it is a usage error. */
export async function confirm(ctx: CliContext, message: string): Promise<void> {
  if (ctx.yes) return;
  if (!ctx.out.interactive) throw new CliError(`${message} — pass --yes to proceed without a terminal`, EXIT.USAGE, 'CONFIRMATION_REQUIRED');
  const answer = await prompts.confirm({ message });
  cancelled(answer);
  if (answer !== true) throw new CliError('cancelled', EXIT.CANCELLED);
}

/** Reads all of stdin (a pipe or a file), without its final newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * A secret value: from stdin when it is not a terminal (`printf %s "$V" | molecule secret set K`), else a masked
 * prompt. Never from argv, where other local users and shell history could read it.
 */
export async function readSecret(message: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const value = await readStdin();
    if (value.length === 0) throw new CliError('no value on stdin', EXIT.USAGE, 'EMPTY_VALUE');
    return value;
  }
  const value = await prompts.password({ message, validate: (v) => (v && v.length > 0 ? undefined : 'a value is required') });
  cancelled(value);
  return value as string;
}

/** A free-text prompt (terminal only). */
export async function ask(message: string, opts: { placeholder?: string; initial?: string } = {}): Promise<string> {
  const value = await prompts.text({ message, ...(opts.placeholder ? { placeholder: opts.placeholder } : {}), ...(opts.initial ? { initialValue: opts.initial } : {}) });
  cancelled(value);
  return value as string;
}
