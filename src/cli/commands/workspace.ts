import { Option, type Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { Column } from '../output.js';
import { confirmByName } from '../prompts.js';
import { heldForApproval } from '../resources/common.js';
import { resolveWorkspace } from '../workspace/resolve.js';
import { followEvents, newLines, printEvent, type EventRow } from '../workspace/stream.js';

interface WorkspaceRow {
  id: string;
  name: string;
  status: string;
  tier: number;
  runtime: string;
  template: string | null;
  parent_id: string | null;
  updated_at: string;
  [key: string]: unknown;
}

const COLUMNS: Column<WorkspaceRow>[] = [
  { header: 'ID', value: (w) => w.id },
  { header: 'NAME', value: (w) => w.name },
  { header: 'STATUS', value: (w) => w.status },
  { header: 'TIER', value: (w) => w.tier },
  { header: 'RUNTIME', value: (w) => w.runtime },
  { header: 'TEMPLATE', value: (w) => w.template },
  { header: 'UPDATED', value: (w) => w.updated_at },
];

interface CreateOptions {
  template?: string;
  tier?: number;
  parent?: string;
  model?: string;
  runtime?: string;
  role?: string;
}

/** Pause, resume and restart: the same shape (POST /workspaces/{id}/<verb>[?cascade=true]). */
function lifecycle(parent: Command, verb: 'pause' | 'resume' | 'restart', description: string): void {
  examples(
    parent
      .command(`${verb} <workspace>`)
      .description(description)
      .option('--cascade', 'also the workspace\'s descendants')
      .action(
        action(async (ctx, ref: string, opts: { cascade?: boolean }) => {
          const w = await resolveWorkspace(ctx, ref);
          const params = { path: { id: w.id }, query: opts.cascade ? { cascade: true } : {} };
          const tenant = ctx.tenant();
          const { data } =
            verb === 'pause'
              ? await tenant.POST('/workspaces/{id}/pause', { params })
              : verb === 'resume'
                ? await tenant.POST('/workspaces/{id}/resume', { params })
                : await tenant.POST('/workspaces/{id}/restart', { params });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          const past = { pause: 'paused', resume: 'resumed', restart: 'restarting' }[verb];
          ctx.out.success(`${past} ${w.name} (${w.id})`);
        }),
      ),
    [`molecule workspace ${verb} my-agent`, `molecule workspace ${verb} 3f1c…-uuid --cascade --json`],
  );
}

/** `molecule workspace …`: the reference Go CLI's verbs, plus pause/resume, logs and events. */
export function register(program: Command): void {
  const ws = program.command('workspace').alias('workspaces').description('workspaces of the org: list, create, inspect, delete, restart, pause, resume, logs, events');
  examples(ws, ['molecule workspace list', 'molecule workspace create my-agent --template hermes --tier 2', 'molecule workspace events my-agent --follow']);

  examples(
    ws
      .command('list')
      .alias('ls')
      .description('list the workspaces of the org')
      .option('--all', 'include removed workspaces')
      .action(
        action(async (ctx, opts: { all?: boolean }) => {
          const { data } = await ctx.tenant().GET('/workspaces', { params: { query: opts.all ? { include_removed: true } : {} } });
          ctx.out.list((data ?? []) as WorkspaceRow[], COLUMNS, 'no workspaces yet — create one with `molecule workspace create <name>`');
        }),
      ),
    ['molecule workspace list', 'molecule workspace list --json | jq -r \'.[].name\''],
  );

  examples(
    ws
      .command('create <name>')
      .description('create a workspace; prints its id and its workspace token (shown once)')
      .option('--template <name>', 'the template to run')
      .option('--tier <n>', 'the tier (1-4)', positiveInt('--tier'))
      .option('--parent <workspace>', 'the parent workspace (id or name)')
      .option('--model <model>', 'the model, e.g. anthropic:claude-sonnet-4')
      .option('--runtime <runtime>', 'the runtime (e.g. langgraph, claude-code)')
      .option('--role <text>', 'the workspace\'s role description')
      .action(
        action(async (ctx, name: string, opts: CreateOptions) => {
          const parent = opts.parent ? await resolveWorkspace(ctx, opts.parent) : null;
          const { data } = await ctx.tenant().POST('/workspaces', {
            body: {
              name,
              ...(opts.template ? { template: opts.template } : {}),
              ...(opts.tier !== undefined ? { tier: opts.tier } : {}),
              ...(parent ? { parent_id: parent.id } : {}),
              ...(opts.model ? { model: opts.model } : {}),
              ...(opts.runtime ? { runtime: opts.runtime } : {}),
              ...(opts.role ? { role: opts.role } : {}),
            },
          });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          const w = data as unknown as WorkspaceRow & { auth_token?: string };
          ctx.out.success(`created workspace ${w.name} (${w.id}), status ${w.status}`);
          if (w.auth_token) {
            ctx.out.note(`its workspace token (shown once; the workspace's runtime already has it): ${w.auth_token}`);
          }
        }),
      ),
    ['molecule workspace create my-agent', 'molecule workspace create researcher --template hermes --tier 2 --parent my-agent', 'molecule workspace create w1 --json | jq -r .id'],
  );

  examples(
    ws
      .command('inspect <workspace>')
      .alias('get')
      .description('show one workspace (by id or name)')
      .action(
        action(async (ctx, ref: string) => {
          const w = await resolveWorkspace(ctx, ref);
          const { data } = await ctx.tenant().GET('/workspaces/{id}', { params: { path: { id: w.id } } });
          const body = data as unknown as Record<string, unknown>;
          if (ctx.out.json) return ctx.out.data(body);
          const keys = ['id', 'name', 'status', 'tier', 'runtime', 'template', 'model', 'parent_id', 'url', 'last_error', 'restart_count', 'active_tasks', 'uptime_seconds', 'created_at', 'updated_at'];
          ctx.out.record(Object.fromEntries(keys.filter((k) => k in body).map((k) => [k, body[k]])));
        }),
      ),
    ['molecule workspace inspect my-agent', 'molecule workspace inspect 3f1c…-uuid --json'],
  );

  examples(
    ws
      .command('delete <workspace>')
      .alias('rm')
      .description('remove a workspace (typed-name confirmation on a terminal, --yes otherwise)')
      .option('--cascade', 'also remove its descendants (otherwise live children refuse the delete)')
      .action(
        action(async (ctx, ref: string, opts: { cascade?: boolean }) => {
          const w = await resolveWorkspace(ctx, ref);
          await confirmByName(ctx, `delete workspace ${w.name} (${w.id})${opts.cascade ? ' and its descendants' : ''}`, w.name);
          const { data } = await ctx.tenant().DELETE('/workspaces/{id}', {
            params: { path: { id: w.id }, query: opts.cascade ? { confirm: true } : {} },
            // The server checks the name too, so a stale id never removes a workspace that was renamed meanwhile.
            headers: { 'x-confirm-name': w.name },
          });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          const cascaded = (data as { cascade_deleted?: number }).cascade_deleted ?? 0;
          ctx.out.success(`deleted workspace ${w.name} (${w.id})${cascaded ? ` and ${cascaded} descendant(s)` : ''}`);
        }),
      ),
    ['molecule workspace delete my-agent', 'molecule workspace delete 3f1c…-uuid --yes', 'molecule workspace delete team-lead --cascade --yes'],
  );

  lifecycle(ws, 'restart', 'restart a workspace');
  lifecycle(ws, 'pause', 'pause a workspace (stops it, keeps its state)');
  lifecycle(ws, 'resume', 'resume a paused workspace');

  examples(
    ws
      .command('logs <workspace>')
      .description("the workspace runtime's recent output (secrets redacted; admin keys only)")
      .option('--tail <n>', 'at most this many lines (max 200)', positiveInt('--tail'), 200)
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .addOption(new Option('--interval <seconds>', 'how often --follow polls').argParser(positiveInt('--interval')).default(2))
      .action(
        action(async (ctx, ref: string, opts: { tail: number; follow?: boolean; interval: number }) => {
          const w = await resolveWorkspace(ctx, ref);
          const fetchLines = async () =>
            (await ctx.tenant().GET('/workspaces/{id}/logs', { params: { path: { id: w.id }, query: { tail: Math.min(opts.tail, 200) } } })).data!;
          let body = await fetchLines();
          if (ctx.out.json && !opts.follow) return ctx.out.data(body);
          const print = (lines: string[]) => {
            for (const line of lines) ctx.out.stdout.write(ctx.out.json ? `${JSON.stringify({ line })}\n` : `${line}\n`);
          };
          print(body.lines);
          if (!opts.follow) {
            if (body.last_sample_error && !ctx.out.json) ctx.out.warn(`last error: ${body.last_sample_error}`);
            return;
          }
          for (;;) {
            await new Promise((r) => setTimeout(r, opts.interval * 1000));
            const next = await fetchLines();
            print(newLines(body.lines, next.lines));
            body = next;
          }
        }),
      ),
    ['molecule workspace logs my-agent', 'molecule workspace logs my-agent --tail 50', 'molecule workspace logs my-agent --follow'],
  );

  examples(
    ws
      .command('events <workspace>')
      .description("the workspace's recent events, or with --follow its live event stream until Ctrl-C")
      .option('-f, --follow', 'stream new events as they happen (Server-Sent Events)')
      .option('--limit <n>', 'how many recent events without --follow (max 1000)', positiveInt('--limit'), 20)
      .action(
        action(async (ctx, ref: string, opts: { follow?: boolean; limit: number }) => {
          const w = await resolveWorkspace(ctx, ref);
          if (opts.follow) return followEvents(ctx, w.id);
          const { data } = await ctx.tenant().GET('/events/{id}', { params: { path: { id: w.id }, query: { limit: Math.min(opts.limit, 1000) } } });
          const rows = ([...(data ?? [])] as EventRow[]).reverse();
          if (ctx.out.json) return ctx.out.data(rows);
          if (rows.length === 0) return ctx.out.note('no events yet');
          for (const e of rows) printEvent(ctx, e);
        }),
      ),
    ['molecule workspace events my-agent', 'molecule workspace events my-agent --follow', 'molecule workspace events my-agent --follow --json | jq .event_type'],
  );
}
