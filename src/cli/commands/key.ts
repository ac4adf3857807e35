import { Option, type Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Column } from '../output.js';
import { confirmByName } from '../prompts.js';
import { durationSeconds } from '../key/duration.js';
import { heldForApproval } from '../resources/common.js';
import { resolveWorkspace } from '../workspace/resolve.js';

interface KeyRow {
  id: string;
  name: string | null;
  prefix: string;
  role: string;
  workspace_ids: string[] | null;
  expires_at: string | null;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  replaced_by: string | null;
  approval_required: boolean;
}

const COLUMNS: Column<KeyRow>[] = [
  { header: 'ID', value: (k) => k.id },
  { header: 'NAME', value: (k) => k.name },
  { header: 'PREFIX', value: (k) => k.prefix },
  { header: 'ROLE', value: (k) => `${k.role}${k.approval_required ? ' (approval)' : ''}` },
  { header: 'WORKSPACES', value: (k) => k.workspace_ids ?? 'all' },
  { header: 'EXPIRES', value: (k) => k.expires_at ?? 'never' },
  { header: 'LAST USED', value: (k) => k.last_used_at ?? 'never' },
];

const DAY_MS = 86_400_000;

/** Every key of the org (all pages of GET /org/tokens). */
async function allKeys(ctx: CliContext): Promise<KeyRow[]> {
  const rows: KeyRow[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const { data } = await ctx.tenant().GET('/org/tokens', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } });
    rows.push(...((data?.tokens ?? []) as KeyRow[]));
    if (!data?.next_cursor) break;
    cursor = String(data.next_cursor);
  }
  return rows;
}

/** A key by id, name or prefix; none → 6, several → 3 listing them. */
async function findKey(ctx: CliContext, ref: string): Promise<KeyRow> {
  const keys = await allKeys(ctx);
  const byId = keys.find((k) => k.id === ref);
  if (byId) return byId;
  const matches = keys.filter((k) => k.name === ref || k.prefix === ref);
  if (matches.length === 0) throw new CliError(`no org key with id, name or prefix "${ref}" — see \`molecule key list\``, EXIT.NOT_FOUND, 'KEY_NOT_FOUND');
  if (matches.length > 1) throw new CliError(`${matches.length} keys match "${ref}": ${matches.map((k) => `${k.id} (${k.prefix})`).join(', ')} — pass the id`, EXIT.USAGE, 'AMBIGUOUS_NAME');
  return matches[0]!;
}

/** The plaintext once, with the server's warning and a line ready to paste. */
function printMinted(ctx: CliContext, minted: { id: string; name: string | null; prefix: string; role: string; expires_at: string | null; auth_token: string; warning: string }, verb: string): void {
  if (ctx.out.json) return ctx.out.data(minted);
  ctx.out.success(`${verb} key ${minted.name ?? minted.prefix} (${minted.id}), role ${minted.role}, expires ${minted.expires_at ?? 'never'}`);
  ctx.out.warn(minted.warning);
  ctx.out.stdout.write(`${minted.auth_token}\n\n  export MOLECULE_API_KEY=${minted.auth_token}\n`);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `molecule key …`: the org's API keys (mint, list, revoke, rotate). */
export function register(program: Command): void {
  const key = program.command('key').alias('keys').description("the org's API keys: list, create, revoke, rotate");
  examples(key, ['molecule key list', 'molecule key create --name ci --role editor --expires-in 30d', 'molecule key rotate tok_01H… --grace 1h']);

  examples(
    key
      .command('list')
      .alias('ls')
      .description('list the org\'s API keys (never their secret)')
      .option('--expired', 'only keys on their way out: replaced by a rotation (working until the grace ends) or past their expiry (the server drops a key once it has expired)')
      .option('--unused-days <n>', 'only keys not used for N days (or never used and older than that)', positiveInt('--unused-days'))
      .option('--no-expiry', 'only keys that never expire')
      .action(
        action(async (ctx, opts: { expired?: boolean; unusedDays?: number; expiry?: boolean }) => {
          const now = Date.now();
          let rows = await allKeys(ctx);
          if (opts.expired) rows = rows.filter((k) => k.replaced_by !== null || (k.expires_at !== null && Date.parse(k.expires_at) <= now));
          if (opts.expiry === false) rows = rows.filter((k) => k.expires_at === null);
          if (opts.unusedDays !== undefined) {
            const since = now - opts.unusedDays * DAY_MS;
            rows = rows.filter((k) => Date.parse(k.last_used_at ?? k.created_at) < since);
          }
          ctx.out.list(rows, COLUMNS, 'no keys match');
        }),
      ),
    ['molecule key list', 'molecule key list --unused-days 30', 'molecule key list --no-expiry --json | jq -r \'.[].id\''],
  );

  examples(
    key
      .command('create')
      .description('mint an org API key; prints it ONCE')
      .requiredOption('--name <name>', 'what the key is for (shown in lists and the audit log)')
      .addOption(new Option('--role <role>', 'what it may do').choices(['admin', 'editor', 'reader']).default('admin'))
      .option('-w, --workspace <workspace>', 'confine the key to this workspace (id or name); repeatable', collect)
      .option('--expires-in <duration>', 'lifetime, e.g. 30d, 12h (default: never, or the minting key\'s own expiry)', durationSeconds('--expires-in'))
      .option('--approval-required', 'every gated action and every delete of the key waits for a human approval (for AI agents)')
      .action(
        action(async (ctx, opts: { name: string; role: 'admin' | 'editor' | 'reader'; workspace?: string[]; expiresIn?: number; approvalRequired?: boolean }) => {
          const workspaceIds: string[] = [];
          for (const ref of opts.workspace ?? []) workspaceIds.push((await resolveWorkspace(ctx, ref)).id);
          const { data } = await ctx.tenant().POST('/org/tokens', {
            body: {
              name: opts.name,
              role: opts.role,
              ...(workspaceIds.length > 0 ? { workspace_ids: [...new Set(workspaceIds)] } : {}),
              ...(opts.expiresIn !== undefined ? { expires_at: new Date(Date.now() + opts.expiresIn * 1000).toISOString() } : {}),
              ...(opts.approvalRequired ? { approval_required: true } : {}),
            },
          });
          if (heldForApproval(ctx, data)) return;
          printMinted(ctx, data as never, 'created');
        }),
      ),
    [
      'molecule key create --name ci --role editor --expires-in 30d',
      'molecule key create --name agent --workspace my-agent --approval-required',
      'molecule key create --name deploy --json | jq -r .auth_token',
    ],
  );

  examples(
    key
      .command('revoke <key>')
      .description('revoke a key by id, name or prefix, at once (typed confirmation on a terminal, --yes otherwise)')
      .action(
        action(async (ctx, ref: string) => {
          const k = await findKey(ctx, ref);
          await confirmByName(ctx, `revoke key ${k.name ?? k.prefix} (${k.id}); whatever uses it stops working`, k.name ?? k.prefix);
          const { data } = await ctx.tenant().DELETE('/org/tokens/{id}', { params: { path: { id: k.id } } });
          if (ctx.out.json) return ctx.out.data({ ...(data as object), id: k.id });
          ctx.out.success(`revoked key ${k.name ?? k.prefix} (${k.id})`);
        }),
      ),
    ['molecule key revoke ci', 'molecule key revoke mola_1a2b3c4d --yes', 'molecule key revoke tok_01H… --yes --json'],
  );

  examples(
    key
      .command('rotate <key>')
      .description('replace a key with a new one (same name, role and workspaces); the old one keeps working for the grace period')
      .option('--grace <duration>', 'how long the old key keeps working, e.g. 1h, 0 to revoke it now', durationSeconds('--grace'), 3600)
      .action(
        action(async (ctx, ref: string, opts: { grace: number }) => {
          const k = await findKey(ctx, ref);
          const { data } = await ctx.tenant().POST('/org/tokens/{id}/rotate', { params: { path: { id: k.id } }, body: { grace_seconds: opts.grace } });
          printMinted(ctx, data as never, 'rotated into');
          if (!ctx.out.json) {
            const prev = (data as { previous_expires_at?: string | null }).previous_expires_at;
            ctx.out.note(`the old key ${k.prefix} works until ${prev ?? 'never'}`);
          }
        }),
      ),
    ['molecule key rotate ci', 'molecule key rotate tok_01H… --grace 0', 'molecule key rotate ci --grace 24h --json | jq -r .auth_token'],
  );
}
