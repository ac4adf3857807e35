import { InvalidArgumentError, type Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import type { Column } from '../output.js';
import { confirmByName } from '../prompts.js';

type Row = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const KEY_COLUMNS: Column<Row>[] = [
  { header: 'ID', value: (k) => k['id'] },
  { header: 'NAME', value: (k) => k['name'] },
  { header: 'PREFIX', value: (k) => k['key_prefix'] },
  { header: 'PARTNER', value: (k) => k['partner_id'] },
  { header: 'ORG', value: (k) => k['org_id'] ?? 'all of the partner\'s' },
  { header: 'SCOPES', value: (k) => k['scopes'] },
  { header: 'RATE/MIN', value: (k) => k['rate_limit'] },
  { header: 'EXPIRES', value: (k) => k['expires_at'] ?? 'never' },
  { header: 'REVOKED', value: (k) => k['revoked_at'] },
  { header: 'LAST USED', value: (k) => k['last_used_at'] },
];

/** `--scopes orgs:create,orgs:read` or repeated `--scopes`. */
function scopes(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** `--expires-in 90` or `90d`: whole days. */
function days(value: string): number {
  const m = /^(\d+)d?$/.exec(value.trim());
  if (!m || Number(m[1]) < 1) throw new InvalidArgumentError('--expires-in must be a whole number of days, e.g. 90 or 90d');
  return Number(m[1]);
}

/** `--org` takes an org id, or a slug resolved through the public routing lookup (the admin token reads no org by slug). */
async function orgIdOf(ctx: CliContext, org: string): Promise<string> {
  if (UUID.test(org)) return org;
  const { data } = await ctx.cp(true).GET('/api/v1/orgs/{slug}/instance', { params: { path: { slug: org } } });
  return (data as Row)['org_id'] as string;
}

interface CreateOptions {
  name?: string;
  partner?: string;
  scopes: string[];
  rateLimit?: number;
  expiresIn?: number;
}

/** `molecule partner-key …`: partner API keys (the CP admin token, or a partner key with `admin:keys`). */
export function register(program: Command): void {
  const pk = program
    .command('partner-key')
    .alias('partner-keys')
    .description('partner API keys for resellers and CI (MOLECULE_CP_ADMIN_TOKEN, or a partner key with admin:keys)');
  examples(pk, [
    'MOLECULE_CP_ADMIN_TOKEN=… molecule partner-key create --partner reseller-1 --scopes orgs:create,orgs:read,provision:status',
    'molecule partner-key list --partner reseller-1',
    'molecule partner-key revoke pak_01J…',
  ]);

  examples(
    pk
      .command('create')
      .description('mint a partner key (mol_pk_live_…): printed once, store it at once')
      .option('--name <name>', 'what the key is for (default: "<partner> key")')
      .option('--partner <id>', 'the partner the key acts for (a partner key minting keys: its own partner)')
      .requiredOption('--scopes <list>', 'comma-separated: orgs:create, orgs:read, orgs:list, orgs:delete, orgs:export, workspaces:create, billing:read, billing:manage, provision:status, admin:keys', scopes)
      .option('--rate-limit <per-minute>', 'requests per minute for this key (default 60)', positiveInt('--rate-limit'))
      .option('--expires-in <days>', 'days until it expires (default: never)', days)
      .addHelpText('after', '\nBind the key to one org with the global --org <id-or-slug> (default: every org of the partner).')
      .action(
        action(async (ctx, opts: CreateOptions) => {
          const org = ctx.options.org;
          const body = {
            name: opts.name ?? `${opts.partner ?? 'partner'} key`,
            scopes: opts.scopes,
            ...(opts.partner ? { partner_id: opts.partner } : {}),
            ...(opts.rateLimit ? { rate_limit: opts.rateLimit } : {}),
            ...(opts.expiresIn ? { expires_in_days: opts.expiresIn } : {}),
            ...(org ? { org_id: await orgIdOf(ctx, org) } : {}),
          };
          const { data } = await ctx.cp().POST('/api/v1/admin/partner-keys', { body });
          const key = data as Row;
          // The one response that carries the plaintext key: stdout gets it (under --json, in the body) exactly once.
          if (ctx.out.json) return ctx.out.data(key);
          ctx.out.record(key, KEY_COLUMNS.slice(0, 8));
          ctx.out.warn('this is the only time the key is shown: store it now (e.g. as the MOLECULE_PARTNER_KEY secret of your CI)');
          process.stdout.write(`${String(key['key'])}\n`);
        }),
      ),
    [
      'molecule partner-key create --partner reseller-1 --scopes orgs:create,orgs:read,provision:status --rate-limit 120 --expires-in 90d',
      'molecule partner-key create --partner reseller-1 --scopes billing:read --org customer-42 --json',
    ],
  );

  examples(
    pk
      .command('list')
      .alias('ls')
      .description('partner keys, newest first (prefixes, never the keys)')
      .option('--partner <id>', 'only this partner\'s keys')
      .option('--include-revoked', 'also list revoked keys')
      .option('--limit <n>', 'at most this many (1-500; default 100)', positiveInt('--limit'))
      .action(
        action(async (ctx, opts: { partner?: string; includeRevoked?: boolean; limit?: number }) => {
          const query = {
            ...(opts.partner ? { partner_id: opts.partner } : {}),
            ...(opts.includeRevoked ? { include_revoked: true } : {}),
            ...(opts.limit ? { limit: opts.limit } : {}),
          };
          const { data } = await ctx.cp().GET('/api/v1/admin/partner-keys', { params: { query } });
          ctx.out.list((data ?? []) as Row[], KEY_COLUMNS, 'no partner keys');
        }),
      ),
    ['molecule partner-key list', 'molecule partner-key list --partner reseller-1 --include-revoked --json'],
  );

  examples(
    pk
      .command('inspect')
      .alias('get')
      .description('one partner key (never the key itself)')
      .argument('<id>', 'the key id (pak_…)')
      .action(
        action(async (ctx, id: string) => {
          const { data } = await ctx.cp().GET('/api/v1/admin/partner-keys/{id}', { params: { path: { id } } });
          ctx.out.record(data as Row, KEY_COLUMNS);
        }),
      ),
    ['molecule partner-key inspect pak_01J…', 'molecule partner-key inspect pak_01J… --json'],
  );

  examples(
    pk
      .command('revoke')
      .description('revoke a partner key: its very next request is refused; type its id to confirm, or --yes')
      .argument('<id>', 'the key id (pak_…)')
      .action(
        action(async (ctx, id: string) => {
          await confirmByName(ctx, `revoke partner key ${id} (every client using it stops working)`, id);
          await ctx.cp().DELETE('/api/v1/admin/partner-keys/{id}', { params: { path: { id } } });
          if (ctx.out.json) return ctx.out.data({ id, revoked: true });
          ctx.out.success(`Revoked partner key ${id}`);
        }),
      ),
    ['molecule partner-key revoke pak_01J…', 'molecule partner-key revoke pak_01J… --yes --json'],
  );
}
