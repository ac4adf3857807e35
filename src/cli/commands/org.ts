import { spawn } from 'node:child_process';
import { Option, type Command } from 'commander';
import { ApiError } from '../../sdk/client.js';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Column } from '../output.js';
import { waitUntilRunning } from '../org/wait.js';
import { confirmByName } from '../prompts.js';
import { registerOrgDefinitions } from './org-definitions.js';

type Row = Record<string, unknown>;

const ORG_COLUMNS: Column<Row>[] = [
  { header: 'SLUG', value: (o) => o['slug'] },
  { header: 'NAME', value: (o) => o['name'] },
  { header: 'PLAN', value: (o) => o['plan'] },
  { header: 'STATUS', value: (o) => o['status'] ?? o['instance_status'] },
  { header: 'ROLE', value: (o) => o['role'] ?? (o['member_count'] !== undefined ? `${String(o['member_count'])} members` : null) },
  { header: 'CREATED', value: (o) => o['created_at'] },
];

/** The CP admin token lists every org (GET /admin/orgs, paged); a session or partner key lists its own. */
async function listOrgs(ctx: CliContext): Promise<Row[]> {
  const cp = ctx.cp();
  if (ctx.resolve().cpCredential?.type !== 'admin-token') {
    const { data } = await cp.GET('/api/v1/orgs');
    return (data ?? []) as Row[];
  }
  const rows: Row[] = [];
  for (let offset = 0; ; ) {
    const { data } = await cp.GET('/api/v1/admin/orgs', { params: { query: { limit: 500, offset } } });
    const page = (data?.orgs ?? []) as Row[];
    rows.push(...page);
    if (page.length < 500) return rows;
    offset += page.length;
  }
}

/** The public routing lookup: the tenant's status and URL (needs no credential). */
async function instanceOf(ctx: CliContext, slug: string): Promise<Row> {
  const { data } = await ctx.cp(true).GET('/api/v1/orgs/{slug}/instance', { params: { path: { slug } } });
  return data as Row;
}

/** Opens a URL in the person's browser; a failure to open is only a note (the URL is already printed). */
function openInBrowser(ctx: CliContext, url: string): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command as string, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => ctx.out.note(`could not open a browser (${command as string}); open the URL above yourself`));
    child.unref();
  } catch {
    ctx.out.note('could not open a browser; open the URL above yourself');
  }
}

interface CreateOptions {
  name?: string;
  plan?: string;
  wait: boolean;
  timeout: number;
  interval: number;
}

async function createOrg(ctx: CliContext, slug: string, opts: CreateOptions): Promise<void> {
  const cp = ctx.cp();
  const body = { slug, name: opts.name ?? slug, ...(opts.plan ? { plan: opts.plan as 'free' | 'starter' | 'pro' } : {}) };
  const { data } = await cp.POST('/api/v1/orgs', { body });
  const created = data as Row;
  if (created['status'] === 'awaiting_payment') {
    if (!ctx.out.json) {
      ctx.out.record(created, ORG_COLUMNS.slice(0, 4));
      ctx.out.warn(`${slug} waits for payment: run \`molecule billing checkout ${slug} --plan ${String(created['plan'])}\`; provisioning starts once an owner confirms`);
    } else ctx.out.data(created);
    return;
  }
  if (!opts.wait) {
    if (ctx.out.json) return ctx.out.data(created);
    ctx.out.success(`Created org ${slug} (${String(created['status'])}); follow it with \`molecule org status ${slug}\``);
    return;
  }
  const final = await waitUntilRunning(ctx, slug, { timeoutMs: opts.timeout * 1000, intervalMs: opts.interval * 1000 });
  let org: Row;
  try {
    org = (await cp.GET('/api/v1/orgs/{slug}', { params: { path: { slug } } })).data as Row;
  } catch (err) {
    // A partner key may hold provision:status without orgs:read: the created org, with its final status, still answers.
    if (!(err instanceof ApiError && err.status === 403)) throw err;
    org = { ...created, status: final.status };
  }
  if (ctx.out.json) return ctx.out.data(org);
  ctx.out.success(`Org ${slug} is running${final.url ? `: ${final.url}` : ''}`);
}

async function deleteOrg(ctx: CliContext, slug: string): Promise<void> {
  await confirmByName(ctx, `delete org ${slug}, its workspaces and everything it holds (irreversible)`, slug);
  const cp = ctx.cp();
  if (ctx.resolve().cpCredential?.type === 'admin-token') {
    // The admin cascade wants the slug typed again in the body, as the person just did.
    await cp.DELETE('/api/v1/admin/tenants/{slug}', { params: { path: { slug } }, body: { confirm: slug } });
  } else {
    await cp.DELETE('/api/v1/orgs/{slug}', { params: { path: { slug } } });
  }
  if (ctx.out.json) return ctx.out.data({ slug, deleted: true });
  ctx.out.success(`Deleted org ${slug}`);
}

/** `molecule org …`: orgs on the control plane (create with a live progress bar, inspect, delete, usage, open). */
export function register(program: Command): void {
  const org = program.command('org').alias('orgs').description('orgs on the control plane (create, waiting until running; list, inspect, delete, usage) and their workspace trees (import, export, templates)');
  examples(org, ['molecule org create acme --name "Acme Inc"', 'molecule org list', 'molecule org delete acme']);

  examples(
    org
      .command('list')
      .alias('ls')
      .description('the orgs you belong to (a partner key: its partner\'s orgs; the CP admin token: every org)')
      .action(action(async (ctx) => ctx.out.list(await listOrgs(ctx), ORG_COLUMNS, 'no orgs yet — create one with `molecule org create <slug>`'))),
    ['molecule org list', 'molecule org list --json', 'MOLECULE_CP_ADMIN_TOKEN=… molecule org list'],
  );

  examples(
    org
      .command('create')
      .description('create an org (you become its owner) and wait, with a progress bar, until its server is running')
      .argument('<slug>', 'lowercase, 3-32 characters; becomes the org\'s host name and cannot change')
      .option('--name <name>', 'display name (default: the slug)')
      .addOption(new Option('--plan <plan>', 'plan (a paid plan waits for checkout)').choices(['free', 'starter', 'pro']))
      .option('--no-wait', 'return as soon as the org is created, without waiting for its server')
      .option('--timeout <seconds>', 'stop waiting after this long (the org keeps provisioning)', positiveInt('--timeout'), 900)
      .addOption(new Option('--interval <seconds>', 'seconds between status polls').argParser(positiveInt('--interval')).default(1).hideHelp())
      .action(action(async (ctx, slug: string, opts: CreateOptions) => createOrg(ctx, slug, opts))),
    [
      'molecule org create acme --name "Acme Inc"',
      'molecule org create acme --no-wait --json',
      'MOLECULE_PARTNER_KEY=mol_pk_live_… molecule org create customer-42 --plan pro --json',
    ],
  );

  examples(
    org
      .command('inspect')
      .alias('get')
      .description('one org: plan, status, credits, your role, and its server\'s status and URL')
      .argument('<slug>', 'the org\'s slug')
      .action(
        action(async (ctx, slug: string) => {
          const { data } = await ctx.cp().GET('/api/v1/orgs/{slug}', { params: { path: { slug } } });
          const instance = await instanceOf(ctx, slug);
          const merged = { ...(data as Row), instance };
          if (ctx.out.json) return ctx.out.data(merged);
          ctx.out.record(merged, [
            ...ORG_COLUMNS.slice(0, 4),
            { header: 'ROLE', value: (o) => o['role'] },
            { header: 'ID', value: (o) => o['id'] },
            { header: 'INSTANCE', value: () => instance['instance_status'] },
            { header: 'URL', value: () => instance['url'] },
            { header: 'CREDITS', value: (o) => o['credits_balance'] },
            { header: 'LAST ERROR', value: (o) => o['last_error'] },
            { header: 'CREATED', value: (o) => o['created_at'] },
          ]);
        }),
      ),
    ['molecule org inspect acme', 'molecule org inspect acme --json'],
  );

  examples(
    org
      .command('status')
      .description('an org\'s status and provisioning progress (stage, percent, ETA, URL once running)')
      .argument('<slug>', 'the org\'s slug or id')
      .action(
        action(async (ctx, slug: string) => {
          const { data } = await ctx.cp().GET('/api/v1/orgs/{slug}/status', { params: { path: { slug } } });
          const body = data as Row & { provisioning: Row };
          if (ctx.out.json) return ctx.out.data(body);
          const p = body.provisioning;
          ctx.out.record(body, [
            { header: 'SLUG', value: (o) => o['slug'] },
            { header: 'STATUS', value: (o) => o['status'] },
            { header: 'STAGE', value: () => `${String(p['stage'])} (${String(p['progress'])}%)` },
            { header: 'MESSAGE', value: () => p['message'] },
            { header: 'ETA', value: () => (p['eta_seconds'] ? `${String(p['eta_seconds'])} s` : null) },
            { header: 'URL', value: () => p['url'] },
          ]);
        }),
      ),
    ['molecule org status acme', 'molecule org status acme -o json'],
  );

  examples(
    org
      .command('usage')
      .description('an org\'s plan, credit balance and this month\'s credits granted and used (org admins)')
      .argument('<slug>', 'the org\'s slug')
      .action(
        action(async (ctx, slug: string) => {
          const { data } = await ctx.cp().GET('/api/v1/orgs/{slug}/usage', { params: { path: { slug } } });
          ctx.out.record(data as Row, [
            { header: 'PLAN', value: (o) => o['plan'] },
            { header: 'BALANCE', value: (o) => o['credits_balance'] },
            { header: 'MONTHLY GRANT', value: (o) => o['plan_monthly_credits'] },
            { header: 'GRANTED THIS MONTH', value: (o) => o['credits_granted_this_period'] },
            { header: 'USED THIS MONTH', value: (o) => o['credits_used_this_period'] },
            { header: 'OVERAGE', value: (o) => `${String(o['overage_used_credits'])} of ${String(o['overage_cap_credits'])}` },
          ]);
        }),
      ),
    ['molecule org usage acme', 'molecule org usage acme --json'],
  );

  examples(
    org
      .command('delete')
      .alias('rm')
      .description('delete an org and everything it holds (owners; irreversible): type its slug to confirm, or --yes')
      .argument('<slug>', 'the org\'s slug')
      .action(action(async (ctx, slug: string) => deleteOrg(ctx, slug))),
    ['molecule org delete acme', 'molecule org delete acme --yes'],
  );

  examples(
    org
      .command('open')
      .description('print the org\'s URL, and open it in a browser when run at a terminal')
      .argument('<slug>', 'the org\'s slug')
      .option('--no-browser', 'only print the URL')
      .action(
        action(async (ctx, slug: string, opts: { browser: boolean }) => {
          const instance = await instanceOf(ctx, slug);
          const url = instance['url'];
          if (typeof url !== 'string') {
            throw new CliError(`org ${slug} has no URL yet (status ${String(instance['status'])}); see \`molecule org status ${slug}\``, EXIT.ERROR, 'NO_URL');
          }
          if (ctx.out.json) return ctx.out.data({ slug, url });
          process.stdout.write(`${url}\n`);
          if (opts.browser && process.stdout.isTTY && ctx.out.interactive) openInBrowser(ctx, url);
        }),
      ),
    ['molecule org open acme', 'molecule org open acme --no-browser'],
  );

  registerOrgDefinitions(org);
}
