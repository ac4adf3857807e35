import { Option, type Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { confirmByName, readSecret } from '../prompts.js';
import { heldForApproval } from '../resources/common.js';
import { workspaceId } from '../workspace/resolve.js';

type ChannelType = 'slack' | 'discord' | 'webhook';

interface ChannelOptions {
  type?: ChannelType;
  url?: string;
  slackChannel?: string;
  secret?: boolean;
  credential?: boolean;
  events?: string;
  allowedUsers?: string;
  enable?: boolean;
  disable?: boolean;
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

/**
 * A channel's config. Credentials never come from argv (other users' `ps`, shell history): a Slack or Discord webhook
 * URL (its token is in the URL), a Slack bot token and a webhook's signing secret are read from stdin or a masked prompt.
 */
async function configFor(type: ChannelType, opts: ChannelOptions): Promise<Record<string, string>> {
  if (type === 'webhook') {
    if (!opts.url) throw new CliError('a webhook channel needs --url <https://…>', EXIT.USAGE);
    if (opts.slackChannel) throw new CliError('--slack-channel is for slack channels', EXIT.USAGE);
    const config: Record<string, string> = { url: opts.url };
    if (opts.secret) config['secret'] = await readSecret('Signing secret (at least 16 characters)');
    return config;
  }
  if (opts.url) throw new CliError(`a ${type} webhook URL carries its token: pipe it on stdin (or type it at the prompt), not --url`, EXIT.USAGE);
  if (opts.secret) throw new CliError('--secret is for webhook channels', EXIT.USAGE);
  if (type === 'slack' && opts.slackChannel) return { bot_token: await readSecret('Slack bot token'), channel: opts.slackChannel };
  if (opts.slackChannel) throw new CliError('--slack-channel is for slack channels', EXIT.USAGE);
  return { webhook_url: await readSecret(`${type === 'slack' ? 'Slack' : 'Discord'} webhook URL`) };
}

async function channelIds(ctx: CliContext, workspace: string, channel: string) {
  const id = await workspaceId(ctx, workspace);
  return { id, channelId: channel };
}

const COLUMNS = [
  { header: 'ID', value: (c: { id: string }) => c.id },
  { header: 'TYPE', value: (c: { type: string }) => c.type },
  { header: 'TARGET', value: (c: { config: Record<string, string> }) => c.config['url'] ?? c.config['webhook_url'] ?? c.config['channel'] ?? c.config },
  { header: 'ENABLED', value: (c: { enabled: boolean }) => (c.enabled ? 'yes' : 'no') },
  { header: 'EVENTS', value: (c: { events: string[] }) => c.events },
  { header: 'UPDATED', value: (c: { updated_at: string }) => c.updated_at },
];

/** `molecule channel …`: a workspace's notification channels (Slack, Discord, signed webhooks) and their deliveries. */
export function register(program: Command): void {
  const channel = program.command('channel').alias('channels').description("a workspace's notification channels (Slack, Discord, signed webhooks): add, change, test, deliveries");
  examples(channel, ['molecule channel list writer', 'molecule channel add writer --type webhook --url https://ops.example.com/hook', 'molecule channel test writer 9b1e…']);

  examples(
    channel
      .command('list')
      .alias('ls')
      .description("list a workspace's channels (credentials masked)")
      .argument('<workspace>', 'the workspace id or name')
      .action(
        action(async (ctx, workspace: string) => {
          const id = await workspaceId(ctx, workspace);
          const { data } = await ctx.tenant().GET('/workspaces/{id}/channels', { params: { path: { id } } });
          ctx.out.list(data ?? [], COLUMNS, 'no channels');
        }),
      ),
    ['molecule channel list writer', 'molecule channel list writer --json | jq ".[] | {id, type}"'],
  );

  examples(
    channel
      .command('add')
      .description('add a channel; a credential (Slack/Discord webhook URL, bot token, signing secret) is read from stdin or a prompt')
      .argument('<workspace>', 'the workspace id or name')
      .addOption(new Option('--type <type>', 'the kind of channel').choices(['slack', 'discord', 'webhook']).makeOptionMandatory())
      .option('--url <url>', 'webhook: the https URL events are POSTed to')
      .option('--secret', 'webhook: read its signing secret from stdin/prompt (else one is generated and shown once)')
      .option('--slack-channel <channel>', 'slack: post with a bot token (read from stdin/prompt) to this channel, not a webhook')
      .option('--events <list>', 'comma-separated event types (default: approvals, provision failures, offline, budget)')
      .option('--allowed-users <list>', 'comma-separated chat users allowed to talk to the workspace through it')
      .option('--disable', 'create it disabled')
      .action(
        action(async (ctx, workspace: string, opts: ChannelOptions) => {
          const id = await workspaceId(ctx, workspace);
          const config = await configFor(opts.type!, opts);
          const events = list(opts.events);
          const allowed = list(opts.allowedUsers);
          const { data } = await ctx.tenant().POST('/workspaces/{id}/channels', {
            params: { path: { id } },
            body: { type: opts.type!, config, ...(events ? { events } : {}), ...(allowed ? { allowed_users: allowed } : {}), ...(opts.disable ? { enabled: false } : {}) },
          });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          const c = data!;
          ctx.out.success(`added ${c.type} channel ${c.id}`);
          if (c.signing_secret) ctx.out.stdout.write(`signing secret (shown once; verify deliveries with it): ${c.signing_secret}\n`);
        }),
      ),
    [
      'molecule channel add writer --type webhook --url https://ops.example.com/hook',
      'printf %s "$SIGNING_SECRET" | molecule channel add writer --type webhook --url https://ops.example.com/hook --secret',
      'printf %s "$SLACK_WEBHOOK_URL" | molecule channel add writer --type slack --events APPROVAL_REQUESTED',
      'printf %s "$SLACK_BOT_TOKEN" | molecule channel add writer --type slack --slack-channel "#ops"',
    ],
  );

  examples(
    channel
      .command('update')
      .description('change a channel: enable/disable, events, allowed users, target (a new credential from stdin/prompt)')
      .argument('<workspace>', 'the workspace id or name')
      .argument('<channel>', 'the channel id')
      .option('--enable', 'turn it on')
      .option('--disable', 'turn it off')
      .option('--events <list>', 'comma-separated event types')
      .option('--allowed-users <list>', 'comma-separated chat users')
      .option('--url <url>', 'webhook: a new target URL (its signing secret is kept)')
      .option('--secret', 'webhook: read a new signing secret from stdin/prompt')
      .option('--credential', 'slack/discord: read a new webhook URL (or bot token with --slack-channel) from stdin/prompt')
      .option('--slack-channel <channel>', 'slack: the channel a bot token posts to')
      .action(
        action(async (ctx, workspace: string, channelId: string, opts: ChannelOptions) => {
          if (opts.enable && opts.disable) throw new CliError('--enable and --disable contradict each other', EXIT.USAGE);
          const ids = await channelIds(ctx, workspace, channelId);
          const body: Record<string, unknown> = {};
          if (opts.enable) body['enabled'] = true;
          if (opts.disable) body['enabled'] = false;
          const events = list(opts.events);
          if (events) body['events'] = events;
          const allowed = list(opts.allowedUsers);
          if (allowed) body['allowed_users'] = allowed;
          if (opts.url || opts.secret || opts.credential || opts.slackChannel) {
            const { data: all } = await ctx.tenant().GET('/workspaces/{id}/channels', { params: { path: { id: ids.id } } });
            const current = (all ?? []).find((c) => c.id === channelId);
            if (!current) throw new CliError(`no channel ${channelId} in workspace ${workspace}`, EXIT.NOT_FOUND, 'NOT_FOUND');
            if (current.type === 'webhook') {
              body['config'] = await configFor('webhook', { ...opts, url: opts.url ?? current.config['url'] });
            } else {
              if (!opts.credential) throw new CliError(`changing a ${current.type} channel's target needs --credential (read from stdin/prompt)`, EXIT.USAGE);
              body['config'] = await configFor(current.type, { ...opts, url: undefined, secret: undefined });
            }
          }
          if (Object.keys(body).length === 0) throw new CliError('nothing to change: pass --enable, --disable, --events, --allowed-users, --url, --secret or --credential', EXIT.USAGE);
          const { data } = await ctx.tenant().PATCH('/workspaces/{id}/channels/{channelId}', { params: { path: ids }, body: body as never });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`updated channel ${data!.id} (${data!.enabled ? 'enabled' : 'disabled'}; events ${data!.events.join(', ')})`);
        }),
      ),
    ['molecule channel update writer 9b1e… --disable', 'molecule channel update writer 9b1e… --events APPROVAL_REQUESTED,BUDGET_EXCEEDED', 'printf %s "$NEW_URL" | molecule channel update writer 9b1e… --credential'],
  );

  examples(
    channel
      .command('remove')
      .alias('rm')
      .description('remove a channel and its delivery log (asks you to type the first 8 characters of its id)')
      .argument('<workspace>', 'the workspace id or name')
      .argument('<channel>', 'the channel id')
      .action(
        action(async (ctx, workspace: string, channelId: string) => {
          const ids = await channelIds(ctx, workspace, channelId);
          await confirmByName(ctx, `remove channel ${channelId} and its delivery log`, channelId.slice(0, 8));
          const { data } = await ctx.tenant().DELETE('/workspaces/{id}/channels/{channelId}', { params: { path: ids } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`removed channel ${channelId}`);
        }),
      ),
    ['molecule channel remove writer 9b1e…', 'molecule channel remove writer 9b1e… --yes'],
  );

  examples(
    channel
      .command('test')
      .description('send a test message through a channel now (exit 1 when it is not delivered)')
      .argument('<workspace>', 'the workspace id or name')
      .argument('<channel>', 'the channel id')
      .action(
        action(async (ctx, workspace: string, channelId: string) => {
          const ids = await channelIds(ctx, workspace, channelId);
          const { data } = await ctx.tenant().POST('/workspaces/{id}/channels/{channelId}/test', { params: { path: ids } });
          const r = data!;
          if (ctx.out.json) ctx.out.data(r);
          else if (r.ok) ctx.out.success(`delivered (HTTP ${r.status_code}, ${r.duration_ms} ms)`);
          else ctx.out.warn(`not delivered: ${r.error ?? `HTTP ${r.status_code}`} (${r.duration_ms} ms)`);
          if (!r.ok) process.exitCode = EXIT.ERROR;
        }),
      ),
    ['molecule channel test writer 9b1e…', 'molecule channel test writer 9b1e… --json | jq .ok'],
  );

  examples(
    channel
      .command('deliveries')
      .description("a channel's delivery log, newest first")
      .argument('<workspace>', 'the workspace id or name')
      .argument('<channel>', 'the channel id')
      .option('--limit <n>', 'at most this many', positiveInt('--limit'))
      .action(
        action(async (ctx, workspace: string, channelId: string, opts: { limit?: number }) => {
          const ids = await channelIds(ctx, workspace, channelId);
          const { data } = await ctx.tenant().GET('/workspaces/{id}/channels/{channelId}/deliveries', { params: { path: ids, query: opts.limit ? { limit: opts.limit } : {} } });
          ctx.out.list(data ?? [], [
            { header: 'EVENT', value: (d) => d.event_type },
            { header: 'STATUS', value: (d) => d.status },
            { header: 'ATTEMPTS', value: (d) => d.attempts },
            { header: 'LAST CODE', value: (d) => d.last_status_code },
            { header: 'LAST ERROR', value: (d) => d.last_error },
            { header: 'CREATED', value: (d) => d.created_at },
            { header: 'DELIVERED', value: (d) => d.delivered_at },
          ], 'no deliveries yet');
        }),
      ),
    ['molecule channel deliveries writer 9b1e…', 'molecule channel deliveries writer 9b1e… --limit 5 --json'],
  );
}
