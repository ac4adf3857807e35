import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';

/**
 * A gated request answers 202 `pending_approval` and changes nothing until another principal approves it. Prints
 * what to do next and returns true; false for any other body.
 */
export function heldForApproval(ctx: CliContext, body: unknown): boolean {
  const b = body as { status?: unknown; approval_id?: unknown; action?: unknown } | null | undefined;
  if (!b || b.status !== 'pending_approval') return false;
  if (ctx.out.json) ctx.out.data(b);
  else {
    ctx.out.warn(`held for approval ${String(b.approval_id)} (${String(b.action)}): nothing was changed yet`);
    ctx.out.note(`another admin approves it with \`molecule approval approve ${String(b.approval_id)}\`; then run this command again`);
  }
  return true;
}

/** Writes text to a file (`--out`) or stdout. */
export function emit(ctx: CliContext, text: string, file: string | undefined, what: string): void {
  const body = text.endsWith('\n') ? text : `${text}\n`;
  if (!file || file === '-') {
    ctx.out.stdout.write(body);
    return;
  }
  writeFileSync(file, body);
  ctx.out.note(`wrote ${what} to ${file} (${Buffer.byteLength(body)} bytes)`);
}

/** Reads a local text file (or stdin as "-"), with a usage error naming it when it cannot be read. */
export function readLocalFile(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.USAGE);
  }
}

const SKIP_DIRS = new Set(['.git', 'node_modules']);
const MAX_FILES = 200;

/**
 * A local folder as `{relative/posix/path: UTF-8 text}` (what the template routes take). Hidden VCS folders are
 * skipped; a binary file, a symlink or too many files is a usage error naming it, before anything is sent.
 */
export function readTemplateDir(dir: string): Record<string, string> {
  let root;
  try {
    root = lstatSync(dir);
  } catch {
    throw new CliError(`no such directory: ${dir}`, EXIT.USAGE);
  }
  if (!root.isDirectory()) throw new CliError(`${dir} is not a directory`, EXIT.USAGE);
  const files: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) walk(relPath);
        continue;
      }
      if (!entry.isFile()) throw new CliError(`${relPath} is not a regular file (symlinks are not sent)`, EXIT.USAGE);
      const bytes = readFileSync(path.join(dir, relPath));
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      if (bytes.includes(0) || text.includes('\uFFFD')) throw new CliError(`${relPath} is not UTF-8 text: templates hold text files only`, EXIT.USAGE);
      files[relPath] = text;
      if (Object.keys(files).length > MAX_FILES) throw new CliError(`${dir} holds more than ${MAX_FILES} files`, EXIT.USAGE);
    }
  };
  walk('');
  if (Object.keys(files).length === 0) throw new CliError(`${dir} holds no files`, EXIT.USAGE);
  return files;
}
