import type { Command } from 'commander';
import { action, examples } from '../command.js';
import { confirm } from '../prompts.js';
import { resolveWorkspace } from '../workspace/resolve.js';

interface TokenRow {
  id: string;
  prefix: string;
  kind: string;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
}

/** `molecule token …`: a workspace's own tokens (what its agent, or an external agent, authenticates with). */
export function register(program: Command): void {
  const token = program.command('token').alias('tokens').description("a workspace's tokens: list, create, revoke");
  examples(token, ['molecule token list my-agent', 'molecule token create my-agent', 'molecule token revoke my-agent wst_01H… --yes']);

  examples(
    token
      .command('list <workspace>')
      .alias('ls')
      .description("list a workspace's tokens (never their secret)")
      .action(
        action(async (ctx, ref: string) => {
          const w = await resolveWorkspace(ctx, ref);
          const { data } = await ctx.tenant().GET('/workspaces/{id}/tokens', { params: { path: { id: w.id } } });
          ctx.out.list(
            (data?.tokens ?? []) as TokenRow[],
            [
              { header: 'ID', value: (t) => t.id },
              { header: 'PREFIX', value: (t) => t.prefix },
              { header: 'KIND', value: (t) => t.kind },
              { header: 'CREATED BY', value: (t) => t.created_by },
              { header: 'CREATED', value: (t) => t.created_at },
              { header: 'LAST USED', value: (t) => t.last_used_at ?? 'never' },
            ],
            'no tokens',
          );
        }),
      ),
    ['molecule token list my-agent', 'molecule token list 3f1c…-uuid --json'],
  );

  examples(
    token
      .command('create <workspace>')
      .description('mint a token for a workspace; prints it ONCE')
      .action(
        action(async (ctx, ref: string) => {
          const w = await resolveWorkspace(ctx, ref);
          const { data } = await ctx.tenant().POST('/workspaces/{id}/tokens', { params: { path: { id: w.id } }, body: {} });
          if (ctx.out.json) return ctx.out.data(data);
          const t = data!;
          ctx.out.success(`created token ${t.prefix} (${t.id}) for workspace ${w.name}`);
          ctx.out.warn('copy this token now; it will not be shown again');
          ctx.out.stdout.write(`${t.auth_token}\n\n  export MOLECULE_WORKSPACE_TOKEN=${t.auth_token}\n`);
        }),
      ),
    ['molecule token create my-agent', 'molecule token create my-agent --json | jq -r .auth_token'],
  );

  examples(
    token
      .command('revoke <workspace> <token-id>')
      .description('revoke one of a workspace\'s tokens at once (asks on a terminal, --yes otherwise)')
      .action(
        action(async (ctx, ref: string, tokenId: string) => {
          const w = await resolveWorkspace(ctx, ref);
          await confirm(ctx, `Revoke token ${tokenId} of workspace ${w.name}? Whatever uses it stops working`);
          const { data } = await ctx.tenant().DELETE('/workspaces/{id}/tokens/{tokenId}', { params: { path: { id: w.id, tokenId } } });
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`revoked token ${tokenId} of workspace ${w.name}`);
        }),
      ),
    ['molecule token revoke my-agent wst_01H…', 'molecule token revoke my-agent wst_01H… --yes --json'],
  );
}
