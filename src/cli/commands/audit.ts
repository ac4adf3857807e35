import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { auditQuery, limitOption, withFilters, type AuditQuery, type FilterOptions } from '../audit/filters.js';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';

interface AuditEvent {
  seq: number;
  occurred_at: string;
  actor: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  request_id: string;
}

const POLL_MS = 1000;
const PAGE = 200;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function clock(iso: string): string {
  return new Date(iso).toISOString().replace('T', ' ').slice(0, 19);
}

/** One event per line: NDJSON under --json (a stream a script can read), else a log line. */
function printEvent(ctx: CliContext, e: AuditEvent): void {
  if (ctx.out.json) ctx.out.stdout.write(`${JSON.stringify(e)}\n`);
  else ctx.out.stdout.write(`${clock(e.occurred_at)}  #${e.seq}  ${e.actor}  ${e.method} ${e.path}  ${e.status}  ${e.duration_ms}ms\n`);
}

/**
 * Events newer than `after` (all of them, paging back through the newest-first list), oldest first. `own` collects
 * the request ids of these reads so that `tail --follow` does not echo its own polling.
 */
async function eventsAfter(ctx: CliContext, query: AuditQuery, after: number, own: Set<string>, max = Infinity): Promise<AuditEvent[]> {
  const client = ctx.tenant();
  const found: AuditEvent[] = [];
  let cursor: number | undefined;
  for (;;) {
    const { data, response } = await client.GET('/audit', { params: { query: { ...query, limit: PAGE, ...(cursor ? { cursor } : {}) } } });
    const rid = response.headers.get('x-request-id');
    if (rid) own.add(rid);
    const page = data!;
    for (const e of page.events) {
      if (e.seq <= after || found.length >= max) return found.reverse();
      found.push(e);
    }
    if (page.next_cursor === null) return found.reverse();
    cursor = page.next_cursor;
  }
}

/** `molecule audit …`: the org's tamper-evident audit trail. */
export function register(program: Command): void {
  const audit = program.command('audit').description("the org's audit trail: query, follow live, verify the hash chain, export");
  examples(audit, ['molecule audit list --since 1h', 'molecule audit tail --follow', 'molecule audit verify']);

  examples(
    withFilters(audit.command('list').alias('ls').description('query the audit trail, newest first'))
      .option('--limit <n>', 'at most this many (default 100, at most 1000)', limitOption)
      .option('--cursor <seq>', 'continue from a previous page\'s next_cursor', positiveInt('--cursor'))
      .action(
        action(async (ctx, opts: FilterOptions & { limit?: number; cursor?: number }) => {
          if (opts.limit !== undefined && opts.limit > 1000) throw new CliError('--limit must be at most 1000', EXIT.USAGE);
          const query = { ...auditQuery(opts), ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.cursor ? { cursor: opts.cursor } : {}) };
          const { data } = await ctx.tenant().GET('/audit', { params: { query } });
          const page = data!;
          if (ctx.out.json) return ctx.out.data(page);
          ctx.out.list(page.events, [
            { header: 'SEQ', value: (e) => e.seq },
            { header: 'WHEN', value: (e) => e.occurred_at },
            { header: 'ACTOR', value: (e) => e.actor },
            { header: 'METHOD', value: (e) => e.method },
            { header: 'PATH', value: (e) => e.path },
            { header: 'STATUS', value: (e) => e.status },
            { header: 'MS', value: (e) => e.duration_ms },
            { header: 'REQUEST', value: (e) => e.request_id },
          ], 'no audit events match');
          if (page.next_cursor !== null) ctx.out.note(`more: molecule audit list --cursor ${page.next_cursor}${opts.limit ? ` --limit ${opts.limit}` : ''}`);
        }),
      ),
    ['molecule audit list', 'molecule audit list --path /org/tokens --since 2h', 'molecule audit list --actor admin-token --status 403 --json'],
  );

  examples(
    withFilters(audit.command('tail').description('the latest events, oldest first; with --follow, new ones as they happen (polled every second)'))
      .option('-n, --lines <n>', 'how many recent events to show first (default 20)', limitOption)
      .option('-f, --follow', 'keep printing new events until interrupted')
      .action(
        action(async (ctx, opts: FilterOptions & { lines?: number; follow?: boolean }) => {
          const query = auditQuery(opts);
          const own = new Set<string>();
          const recent = await eventsAfter(ctx, query, 0, own, opts.lines ?? 20);
          for (const e of recent) printEvent(ctx, e);
          if (!opts.follow) return;
          let last = recent.length > 0 ? recent[recent.length - 1]!.seq : 0;
          if (last === 0) {
            // Nothing matched yet: start from the newest event of any kind, so older ones are not replayed.
            const { data, response } = await ctx.tenant().GET('/audit', { params: { query: { limit: 1 } } });
            const rid = response.headers.get('x-request-id');
            if (rid) own.add(rid);
            last = data!.events[0]?.seq ?? 0;
          }
          if (!ctx.out.json) ctx.out.note(ctx.out.style('dim', '… following (Ctrl-C to stop)', ctx.out.stderr));
          for (;;) {
            await sleep(POLL_MS);
            const fresh = await eventsAfter(ctx, query, last, own);
            for (const e of fresh) {
              last = Math.max(last, e.seq);
              if (!own.has(e.request_id)) printEvent(ctx, e);
            }
          }
        }),
      ),
    ['molecule audit tail', 'molecule audit tail -n 50 --path /workspaces', 'molecule audit tail --follow', 'molecule audit tail --follow --json | jq -c "{actor, path, status}"'],
  );

  examples(
    audit
      .command('verify')
      .description('recompute the hash chain: OK with the count and head, or the first broken link (exit 1)')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.tenant().GET('/audit/verify');
          const v = data!;
          if (ctx.out.json) ctx.out.data(v);
          if (v.ok) {
            if (!ctx.out.json) {
              ctx.out.success(`OK: ${v.count} events, chain unbroken; head ${v.head}`);
              const anchor = 'anchor' in v ? v.anchor : undefined;
              if (anchor && anchor.checked) ctx.out.note(`matches the anchor reported to the control plane (${anchor.count} events)`);
              else if (anchor && !anchor.checked) ctx.out.note(`anchor not checked: ${anchor.reason}`);
            }
            return;
          }
          throw new CliError(`audit chain BROKEN at event #${v.broken_at}${v.event_id ? ` (${v.event_id})` : ''}: ${v.reason} — ${v.count} events checked`, EXIT.ERROR, 'AUDIT_CHAIN_BROKEN');
        }),
      ),
    ['molecule audit verify', 'molecule audit verify --json | jq .ok'],
  );

  examples(
    withFilters(audit.command('export').description('export the audit trail as NDJSON, oldest first (streamed)'))
      .option('--out <file>', 'write it to this file instead of stdout')
      .action(
        action(async (ctx, opts: FilterOptions & { out?: string }) => {
          const { data } = await ctx.tenant().GET('/audit/export', { params: { query: auditQuery(opts) }, parseAs: 'stream' });
          if (!data) throw new CliError('the server sent no export body', EXIT.SERVER);
          const source = Readable.fromWeb(data as import('node:stream/web').ReadableStream<Uint8Array>);
          if (!opts.out || opts.out === '-') {
            await pipeline(source, ctx.out.stdout, { end: false });
            return;
          }
          let bytes = 0;
          source.on('data', (chunk: Buffer) => (bytes += chunk.length));
          await pipeline(source, createWriteStream(opts.out));
          ctx.out.note(`wrote the audit trail to ${opts.out} (${bytes} bytes)`);
        }),
      ),
    ['molecule audit export > audit.ndjson', 'molecule audit export --since 7d --out week.ndjson', 'molecule audit export --actor admin-token | jq -c .path'],
  );
}
