import { Option, type Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import type { Column } from '../output.js';

type Row = Record<string, unknown>;

function money(cents: unknown, currency: unknown): string | null {
  if (typeof cents !== 'number') return null;
  return `${(cents / 100).toFixed(2)} ${String(currency ?? '').toUpperCase()}`.trim();
}

const PLAN_COLUMNS: Column<Row>[] = [
  { header: 'PLAN', value: (p) => p['id'] },
  { header: 'NAME', value: (p) => p['label'] },
  { header: 'PRICE', value: (p) => `${money(p['price_cents'], p['currency']) ?? '-'} / ${String(p['interval'])}` },
  { header: 'WORKSPACES', value: (p) => p['max_workspaces'] ?? 'unlimited' },
  { header: 'MONTHLY CREDITS', value: (p) => p['monthly_credits'] },
  { header: 'STARTING CREDITS', value: (p) => p['starting_credits'] },
  { header: 'OVERAGE CAP', value: (p) => p['overage_cap_credits'] },
];

const INVOICE_COLUMNS: Column<Row>[] = [
  { header: 'NUMBER', value: (i) => i['number'] },
  { header: 'ORG', value: (i) => i['org_slug'] },
  { header: 'DESCRIPTION', value: (i) => i['description'] },
  { header: 'AMOUNT', value: (i) => money(i['amount_cents'], i['currency']) },
  { header: 'STATUS', value: (i) => i['status'] },
  { header: 'CREATED', value: (i) => i['created_at'] },
  { header: 'PAID', value: (i) => i['paid_at'] },
];

const SESSION_FIELDS: Column<Row>[] = [
  { header: 'ID', value: (s) => s['id'] },
  { header: 'KIND', value: (s) => s['kind'] },
  { header: 'ORG', value: (s) => s['org_slug'] },
  { header: 'PLAN', value: (s) => s['plan'] },
  { header: 'CREDITS', value: (s) => s['credits'] },
  { header: 'AMOUNT', value: (s) => money(s['amount_cents'], s['currency']) },
  { header: 'STATUS', value: (s) => s['status'] },
  { header: 'EXPIRES', value: (s) => s['expires_at'] },
  { header: 'COMPLETED', value: (s) => s['completed_at'] },
];

/** A started session: its URL (where an owner confirms) and id, and how to confirm it from the CLI. */
function printSession(ctx: CliContext, what: string, body: Row): void {
  if (ctx.out.json) return ctx.out.data(body);
  ctx.out.success(`${what}: ${String(body['id'])}`);
  process.stdout.write(`${String(body['url'])}\n`);
  ctx.out.note(`An org owner confirms at that page, or with \`molecule billing session confirm ${String(body['id'])}\`.`);
}

/** `molecule billing …`: plans, invoices, checkout, top-ups, the portal and billing sessions (control plane). */
export function register(program: Command): void {
  const billing = program.command('billing').description('plans, invoices, checkout, credit top-ups and the billing portal (control plane)');
  examples(billing, ['molecule billing plans', 'molecule billing checkout acme --plan pro', 'molecule billing session confirm bs_01J…']);

  examples(
    billing
      .command('plans')
      .description('the plan catalogue, cheapest first (needs no sign-in)')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.cp(true).GET('/api/v1/billing/plans');
          ctx.out.list((data ?? []) as Row[], PLAN_COLUMNS);
        }),
      ),
    ['molecule billing plans', 'molecule billing plans --json'],
  );

  examples(
    billing
      .command('invoices')
      .description('invoices, newest first: one org\'s, or every org where you are an owner or admin')
      .argument('[org]', 'the org\'s slug (default: all your orgs)')
      .action(
        action(async (ctx, slug: string | undefined) => {
          const { data } = await ctx.cp().GET('/api/v1/billing/invoices', { params: { query: slug ? { org_slug: slug } : {} } });
          ctx.out.list((data ?? []) as Row[], INVOICE_COLUMNS, 'no invoices');
        }),
      ),
    ['molecule billing invoices', 'molecule billing invoices acme --json'],
  );

  examples(
    billing
      .command('checkout')
      .description('start a plan checkout (owners and admins): prints the confirmation page\'s URL and the session id')
      .argument('<org>', 'the org\'s slug')
      .addOption(new Option('--plan <plan>', 'the plan to move to').choices(['starter', 'pro']).makeOptionMandatory())
      .option('--success-url <url>', 'where the browser goes after confirming (a path on the control plane or a tenant URL)', '/')
      .option('--cancel-url <url>', 'where the browser goes after cancelling', '/')
      .action(
        action(async (ctx, slug: string, opts: { plan: 'starter' | 'pro'; successUrl: string; cancelUrl: string }) => {
          const { data } = await ctx.cp().POST('/api/v1/billing/checkout', {
            body: { org_slug: slug, plan: opts.plan, success_url: opts.successUrl, cancel_url: opts.cancelUrl },
          });
          printSession(ctx, `Checkout of ${opts.plan} for ${slug} started`, data as Row);
        }),
      ),
    ['molecule billing checkout acme --plan pro', 'molecule billing checkout acme --plan starter --success-url https://acme.example.com/welcome --json'],
  );

  examples(
    billing
      .command('topup')
      .description('start a credit top-up (owners and admins; 1 credit = 1 cent)')
      .argument('<org>', 'the org\'s slug')
      .requiredOption('--amount <credits>', 'credits to buy (100-1000000)', positiveInt('--amount'))
      .option('--success-url <url>', 'where the browser goes after confirming')
      .option('--cancel-url <url>', 'where the browser goes after cancelling')
      .action(
        action(async (ctx, slug: string, opts: { amount: number; successUrl?: string; cancelUrl?: string }) => {
          const { data } = await ctx.cp().POST('/api/v1/billing/topup', {
            body: {
              org_slug: slug,
              credits: opts.amount,
              ...(opts.successUrl ? { success_url: opts.successUrl } : {}),
              ...(opts.cancelUrl ? { cancel_url: opts.cancelUrl } : {}),
            },
          });
          printSession(ctx, `Top-up of ${opts.amount} credits for ${slug} started`, data as Row);
        }),
      ),
    ['molecule billing topup acme --amount 5000', 'molecule billing topup acme --amount 100 --json'],
  );

  examples(
    billing
      .command('portal')
      .description('print a billing portal link for the org (plan, balance, ledger, invoices; valid an hour)')
      .argument('<org>', 'the org\'s slug')
      .option('--return-url <url>', 'where the portal\'s back link goes', '/')
      .action(
        action(async (ctx, slug: string, opts: { returnUrl: string }) => {
          const { data } = await ctx.cp().POST('/api/v1/billing/portal', { body: { org_slug: slug, return_url: opts.returnUrl } });
          if (ctx.out.json) return ctx.out.data(data);
          process.stdout.write(`${String((data as Row)['url'])}\n`);
        }),
      ),
    ['molecule billing portal acme', 'molecule billing portal acme --return-url https://acme.example.com --json'],
  );

  const session = billing.command('session').alias('sessions').description('one checkout, top-up or portal session: show, confirm or cancel it');
  examples(session, ['molecule billing session show bs_01J…', 'molecule billing session confirm bs_01J…']);
  examples(
    session
      .command('show')
      .description('a billing session: kind, plan or credits, amount and status')
      .argument('<id>', 'the session id (bs_…)')
      .action(
        action(async (ctx, id: string) => {
          const { data } = await ctx.cp().GET('/api/v1/billing/sessions/{id}', { params: { path: { id } } });
          ctx.out.record(data as Row, SESSION_FIELDS);
        }),
      ),
    ['molecule billing session show bs_01J…', 'molecule billing session show bs_01J… --json'],
  );
  for (const verb of ['confirm', 'cancel'] as const) {
    examples(
      session
        .command(verb)
        .description(verb === 'confirm' ? 'confirm a checkout or top-up (org owners): charges it, sets the plan or adds the credits' : 'cancel a pending session (org owners)')
        .argument('<id>', 'the session id (bs_…)')
        .action(
          action(async (ctx, id: string) => {
            const path = verb === 'confirm' ? '/api/v1/billing/sessions/{id}/confirm' : '/api/v1/billing/sessions/{id}/cancel';
            const { data } = await ctx.cp().POST(path, { params: { path: { id } }, body: {} });
            const body = data as { status: string; organization: Row };
            if (ctx.out.json) return ctx.out.data(body);
            const org = body.organization;
            ctx.out.success(`Session ${id} ${body.status}: ${String(org['slug'])} is on ${String(org['plan'])} with ${String(org['credits_balance'])} credits`);
          }),
        ),
      [`molecule billing session ${verb} bs_01J…`, `molecule billing session ${verb} bs_01J… --json`],
    );
  }
}
