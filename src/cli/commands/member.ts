import { Argument, Option, type Command } from 'commander';
import { action, examples, positiveInt } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Column } from '../output.js';
import { confirmByName, readSecret } from '../prompts.js';

type Row = Record<string, unknown>;
type Role = 'owner' | 'admin' | 'member';
const ROLES = ['owner', 'admin', 'member'];

const MEMBER_COLUMNS: Column<Row>[] = [
  { header: 'USER ID', value: (m) => m['user_id'] },
  { header: 'EMAIL', value: (m) => m['email'] },
  { header: 'NAME', value: (m) => m['name'] },
  { header: 'ROLE', value: (m) => m['role'] },
  { header: 'JOINED', value: (m) => m['joined_at'] },
];

const INVITATION_COLUMNS: Column<Row>[] = [
  { header: 'ID', value: (i) => i['id'] },
  { header: 'EMAIL', value: (i) => i['email'] ?? 'anyone with the token' },
  { header: 'ROLE', value: (i) => i['role'] },
  { header: 'TOKEN PREFIX', value: (i) => i['prefix'] },
  { header: 'EXPIRES', value: (i) => i['expires_at'] },
  { header: 'CREATED', value: (i) => i['created_at'] },
];

async function members(ctx: CliContext, slug: string): Promise<Row[]> {
  const { data } = await ctx.cp().GET('/api/v1/orgs/{slug}/members', { params: { path: { slug } } });
  return (data?.members ?? []) as Row[];
}

/** A member named by user id, or by email (looked up in the member list, case-insensitively). */
async function memberOf(ctx: CliContext, slug: string, who: string): Promise<Row> {
  const list = await members(ctx, slug);
  const byEmail = who.includes('@');
  const found = list.find((m) => (byEmail ? String(m['email'] ?? '').toLowerCase() === who.toLowerCase() : m['user_id'] === who));
  if (found) return found;
  if (byEmail) throw new CliError(`no member of ${slug} has the email ${who}`, EXIT.NOT_FOUND, 'MEMBER_NOT_FOUND');
  // An id the list does not show: let the server answer (its message, its 404).
  return { user_id: who, email: null };
}

function label(m: Row): string {
  return typeof m['email'] === 'string' ? `${m['email']} (${String(m['user_id'])})` : String(m['user_id']);
}

/** `molecule member …` (org members and invitations on the control plane) and `molecule invitation accept`. */
export function register(program: Command): void {
  const member = program.command('member').alias('members').description('an org\'s members and invitations (control plane; signed in with a session)');
  examples(member, ['molecule member list acme', 'molecule member invite acme ada@example.com --role admin', 'molecule member role acme ada@example.com member']);

  examples(
    member
      .command('list')
      .alias('ls')
      .description('the org\'s members and their roles, oldest first')
      .argument('<org>', 'the org\'s slug')
      .action(action(async (ctx, slug: string) => ctx.out.list(await members(ctx, slug), MEMBER_COLUMNS, 'no members'))),
    ['molecule member list acme', 'molecule member list acme --json'],
  );

  examples(
    member
      .command('invite')
      .description('invite someone (owners and admins): prints a one-time invite token to hand them out of band')
      .argument('<org>', 'the org\'s slug')
      .argument('[email]', 'only a user signed in with this email can accept (omit: whoever holds the token)')
      .addOption(new Option('--role <role>', 'their role once they accept').choices(ROLES).default('member'))
      .option('--expires-in <hours>', 'hours the invitation stays valid (1-720; default 168)', positiveInt('--expires-in'))
      .action(
        action(async (ctx, slug: string, email: string | undefined, opts: { role: Role; expiresIn?: number }) => {
          const { data } = await ctx.cp().POST('/api/v1/orgs/{slug}/members/invitations', {
            params: { path: { slug } },
            body: { role: opts.role, ...(email ? { email } : {}), ...(opts.expiresIn ? { expires_in_hours: opts.expiresIn } : {}) },
          });
          const inv = data as Row;
          if (ctx.out.json) return ctx.out.data(inv);
          ctx.out.success(`Invited ${email ?? 'whoever holds the token'} to ${slug} as ${opts.role} (invitation ${String(inv['id'])}, expires ${String(inv['expires_at'])})`);
          ctx.out.warn('the invite token is shown only now; send it to the invitee privately:');
          process.stdout.write(`${String(inv['invite_token'])}\n`);
          ctx.out.note(`They accept, signed in, with: printf %s "$TOKEN" | molecule invitation accept`);
        }),
      ),
    ['molecule member invite acme ada@example.com', 'molecule member invite acme ada@example.com --role admin --expires-in 24', 'molecule member invite acme --json'],
  );

  examples(
    member
      .command('invitations')
      .description('pending invitations (owners and admins): token prefixes, never the tokens')
      .argument('<org>', 'the org\'s slug')
      .action(
        action(async (ctx, slug: string) => {
          const { data } = await ctx.cp().GET('/api/v1/orgs/{slug}/members/invitations', { params: { path: { slug } } });
          ctx.out.list((data?.invitations ?? []) as Row[], INVITATION_COLUMNS, 'no pending invitations');
        }),
      ),
    ['molecule member invitations acme', 'molecule member invitations acme --json'],
  );

  examples(
    member
      .command('revoke-invite')
      .description('revoke a pending invitation: its token stops working at once')
      .argument('<org>', 'the org\'s slug')
      .argument('<id>', 'the invitation id (inv_…)')
      .action(
        action(async (ctx, slug: string, id: string) => {
          const { data } = await ctx.cp().DELETE('/api/v1/orgs/{slug}/members/invitations/{id}', { params: { path: { slug, id } } });
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`Revoked invitation ${id}`);
        }),
      ),
    ['molecule member revoke-invite acme inv_01J…'],
  );

  examples(
    member
      .command('remove')
      .alias('rm')
      .description('remove a member, or leave the org (your own user id); type their email or id to confirm, or --yes')
      .argument('<org>', 'the org\'s slug')
      .argument('<user>', 'the member\'s user id or email')
      .action(
        action(async (ctx, slug: string, who: string) => {
          const m = await memberOf(ctx, slug, who);
          await confirmByName(ctx, `remove ${label(m)} from ${slug}`, who);
          const userId = String(m['user_id']);
          await ctx.cp().DELETE('/api/v1/orgs/{slug}/members/{user_id}', { params: { path: { slug, user_id: userId } } });
          if (ctx.out.json) return ctx.out.data({ org_slug: slug, user_id: userId, removed: true });
          ctx.out.success(`Removed ${label(m)} from ${slug}`);
        }),
      ),
    ['molecule member remove acme ada@example.com', 'molecule member remove acme usr_01J… --yes'],
  );

  examples(
    member
      .command('role')
      .description('change a member\'s role (owners: any change; admins: between member and admin)')
      .argument('<org>', 'the org\'s slug')
      .argument('<user>', 'the member\'s user id or email')
      .addArgument(new Argument('<role>', 'owner, admin or member').choices(ROLES))
      .action(
        action(async (ctx, slug: string, who: string, role: Role) => {
          const m = await memberOf(ctx, slug, who);
          const { data } = await ctx.cp().PATCH('/api/v1/orgs/{slug}/members/{user_id}', {
            params: { path: { slug, user_id: String(m['user_id']) } },
            body: { role },
          });
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`${label(data as Row)} is now ${role} of ${slug}`);
        }),
      ),
    ['molecule member role acme ada@example.com admin', 'molecule member role acme usr_01J… member --json'],
  );

  const invitation = program.command('invitation').alias('invitations').description('invitations you received');
  examples(invitation, ['molecule invitation accept          # the token at a masked prompt', 'printf %s "$INVITE_TOKEN" | molecule invitation accept']);
  examples(
    invitation
      .command('accept')
      .description('join an org with an invite token (moli_…), read from stdin or a masked prompt — never from argv')
      .action(
        action(async (ctx) => {
          const token = await readSecret('Invite token (moli_…)');
          const { data } = await ctx.cp().POST('/api/v1/invitations/accept', { body: { token } });
          const body = data as { organization: Row; role: string };
          if (ctx.out.json) return ctx.out.data(body);
          ctx.out.success(`Joined ${String(body.organization['slug'])} as ${body.role}`);
        }),
      ),
    ['printf %s "$INVITE_TOKEN" | molecule invitation accept', 'molecule invitation accept   # prompts for the token'],
  );
}
