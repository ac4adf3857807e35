import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { request } from '../../sdk/index.js';
import { action, examples } from '../command.js';
import { CliError, EXIT } from '../exit-codes.js';
import { readStdin } from '../prompts.js';

interface ApiOptions {
  field?: string[];
  rawField?: string[];
  header?: string[];
  input?: string;
  cp?: boolean;
  paginate?: boolean;
  include?: boolean;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
const MAX_PAGES = 1000;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-F n=3` sends the number 3, `-F on=true` the boolean, `-F x=null` null, `-F k=@file` the file's text. */
function typedValue(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw.startsWith('@')) return readFileSync(raw.slice(1), 'utf8');
  return raw;
}

function splitField(field: string): [string, string] {
  const at = field.indexOf('=');
  if (at <= 0) throw new CliError(`field "${field}" must be key=value`, EXIT.USAGE);
  return [field.slice(0, at), field.slice(at + 1)];
}

/** Pages are joined: arrays concatenated (a bare array, or each array field of an object), `next_cursor` followed. */
function mergePages(pages: unknown[]): unknown {
  if (pages.length === 1) return pages[0];
  if (pages.every(Array.isArray)) return (pages as unknown[][]).flat();
  const first = { ...(pages[0] as Record<string, unknown>) };
  for (const [k, v] of Object.entries(first)) {
    if (Array.isArray(v)) first[k] = pages.flatMap((p) => ((p as Record<string, unknown>)[k] as unknown[]) ?? []);
  }
  if ('next_cursor' in first) first['next_cursor'] = null;
  if (typeof first['count'] === 'number') {
    const arrays = Object.values(first).filter(Array.isArray) as unknown[][];
    if (arrays.length === 1) first['count'] = arrays[0]!.length;
  }
  return first;
}

/** `molecule api`, like `gh api`: any route of either service, authenticated, with `--paginate`. */
export function register(program: Command): void {
  examples(
    program
      .command('api')
      .description('call any route of the org (or, with --cp, of the control plane), authenticated; prints the response')
      .argument('<method>', 'GET, POST, PUT, PATCH, DELETE, …')
      .argument('<path>', 'the route path with its query, e.g. /workspaces or "/audit?limit=10"')
      .option('-f, --raw-field <key=value>', 'a string field (the JSON body, or the query of a GET); repeatable', collect)
      .option('-F, --field <key=value>', 'a typed field: numbers, true/false/null, @file for a file; repeatable', collect)
      .option('-H, --header <name:value>', 'an extra request header; repeatable', collect)
      .option('--input <file>', 'the request body from a file ("-" for stdin), sent as is')
      .option('--cp', 'call the control plane instead of the org')
      .option('--paginate', 'follow next_cursor and print every page joined')
      .option('-i, --include', 'print the status line and response headers too')
      .action(
        action(async (ctx, methodArg: string, path: string, opts: ApiOptions) => {
          const method = methodArg.toUpperCase();
          if (!METHODS.has(method)) throw new CliError(`unknown method "${methodArg}" — one of ${[...METHODS].join(', ')}`, EXIT.USAGE);
          if (!path.startsWith('/')) throw new CliError(`path "${path}" must start with /`, EXIT.USAGE);
          const url = new URL(path, 'http://placeholder');
          const query: Record<string, string | string[]> = {};
          for (const [k, v] of url.searchParams) query[k] = k in query ? [...[query[k]!].flat(), v] : v;
          const fields: Record<string, unknown> = {};
          for (const f of opts.rawField ?? []) {
            const [k, v] = splitField(f);
            fields[k] = v;
          }
          for (const f of opts.field ?? []) {
            const [k, v] = splitField(f);
            fields[k] = typedValue(v);
          }
          const headers: Record<string, string> = {};
          for (const h of opts.header ?? []) {
            const at = h.indexOf(':');
            if (at <= 0) throw new CliError(`header "${h}" must be name:value`, EXIT.USAGE);
            headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
          }
          let body: unknown = undefined;
          if (opts.input !== undefined) {
            const text = opts.input === '-' ? await readStdin() : readFileSync(opts.input, 'utf8');
            try {
              body = JSON.parse(text);
            } catch {
              throw new CliError(`--input is not JSON: ${opts.input}`, EXIT.USAGE);
            }
          } else if (Object.keys(fields).length > 0) {
            if (method === 'GET' || method === 'HEAD' || method === 'DELETE') for (const [k, v] of Object.entries(fields)) query[k] = String(v);
            else body = fields;
          }
          const client = opts.cp ? ctx.cp() : ctx.tenant();
          const pages: unknown[] = [];
          let response = await request(client, method, url.pathname, { query, body, headers });
          if (opts.include) {
            ctx.out.stdout.write(`HTTP ${response.status}\n${[...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n`);
          }
          if (response.json === undefined) {
            if (response.text) ctx.out.stdout.write(response.text.endsWith('\n') ? response.text : `${response.text}\n`);
            return;
          }
          pages.push(response.json);
          while (opts.paginate && method === 'GET') {
            const next = (response.json as { next_cursor?: unknown } | null)?.next_cursor;
            if (next === null || next === undefined) break;
            if (pages.length >= MAX_PAGES) throw new CliError(`stopped after ${MAX_PAGES} pages`, EXIT.ERROR);
            response = await request(client, method, url.pathname, { query: { ...query, cursor: String(next) }, headers });
            pages.push(response.json);
          }
          ctx.out.data(mergePages(pages));
        }),
      ),
    [
      'molecule api GET /workspaces',
      'molecule api GET /audit --paginate --json | jq length',
      'molecule api POST /workspaces -f name=demo -F tier=2',
      'molecule api --cp GET /api/v1/orgs',
      'echo \'{"name":"x"}\' | molecule api POST /workspaces --input -',
    ],
  );
}
