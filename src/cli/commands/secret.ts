import type { Command } from 'commander';
import { action, examples } from '../command.js';
import { confirmByName, readSecret } from '../prompts.js';
import { heldForApproval } from '../resources/common.js';
import { resolveWorkspace } from '../workspace/resolve.js';

interface SecretRow {
  key: string;
  has_value: boolean;
  scope: string;
  created_at: string;
  updated_at: string;
}

/** `molecule secret …`: org-wide secrets (/settings/secrets) or one workspace's (/workspaces/{id}/secrets). Values are write-only. */
export function register(program: Command): void {
  const secret = program.command('secret').alias('secrets').description('secrets of the org or of one workspace (names only; values are write-only)');
  examples(secret, ['molecule secret list', 'printf %s "$TOKEN" | molecule secret set GITHUB_TOKEN --workspace my-agent', 'molecule secret delete GITHUB_TOKEN --yes']);

  examples(
    secret
      .command('list')
      .alias('ls')
      .description('list secret names (never values): org-wide, or a workspace\'s (its own and the org-wide ones it inherits)')
      .option('-w, --workspace <workspace>', 'a workspace (id or name)')
      .action(
        action(async (ctx, opts: { workspace?: string }) => {
          let rows: SecretRow[];
          if (opts.workspace) {
            const w = await resolveWorkspace(ctx, opts.workspace);
            rows = ((await ctx.tenant().GET('/workspaces/{id}/secrets', { params: { path: { id: w.id } } })).data ?? []) as SecretRow[];
          } else {
            rows = ((await ctx.tenant().GET('/settings/secrets')).data ?? []) as SecretRow[];
          }
          ctx.out.list(
            rows,
            [
              { header: 'KEY', value: (s) => s.key },
              { header: 'SCOPE', value: (s) => s.scope },
              { header: 'UPDATED', value: (s) => s.updated_at },
            ],
            'no secrets',
          );
        }),
      ),
    ['molecule secret list', 'molecule secret list --workspace my-agent --json'],
  );

  examples(
    secret
      .command('set <KEY>')
      .description('create or replace a secret; the value comes from stdin or a masked prompt, never from the command line')
      .option('-w, --workspace <workspace>', 'a workspace (id or name); org-wide when absent')
      .action(
        action(async (ctx, key: string, opts: { workspace?: string }) => {
          const w = opts.workspace ? await resolveWorkspace(ctx, opts.workspace) : null;
          const value = await readSecret(`Value of ${key}`);
          const { data } = w
            ? await ctx.tenant().PUT('/workspaces/{id}/secrets', { params: { path: { id: w.id } }, body: { key, value } })
            : await ctx.tenant().PUT('/settings/secrets', { body: { key, value } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`set ${key} ${w ? `on workspace ${w.name}` : 'org-wide'}`);
        }),
      ),
    ['printf %s "$OPENAI_API_KEY" | molecule secret set OPENAI_API_KEY', 'molecule secret set GITHUB_TOKEN --workspace my-agent   # asks, masked', 'molecule secret set DB_URL < db-url.txt'],
  );

  examples(
    secret
      .command('delete <KEY>')
      .alias('rm')
      .description('delete a secret (typed-name confirmation on a terminal, --yes otherwise)')
      .option('-w, --workspace <workspace>', 'a workspace (id or name); org-wide when absent')
      .action(
        action(async (ctx, key: string, opts: { workspace?: string }) => {
          const w = opts.workspace ? await resolveWorkspace(ctx, opts.workspace) : null;
          await confirmByName(ctx, `delete secret ${key} ${w ? `of workspace ${w.name}` : 'org-wide'}`, key);
          const { data } = w
            ? await ctx.tenant().DELETE('/workspaces/{id}/secrets/{key}', { params: { path: { id: w.id, key } } })
            : await ctx.tenant().DELETE('/settings/secrets/{key}', { params: { path: { key } } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`deleted ${key} ${w ? `of workspace ${w.name}` : 'org-wide'}`);
        }),
      ),
    ['molecule secret delete OPENAI_API_KEY', 'molecule secret delete GITHUB_TOKEN --workspace my-agent --yes'],
  );
}
