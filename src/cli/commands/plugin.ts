import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { action, examples } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { confirmByName } from '../prompts.js';
import { heldForApproval } from '../resources/common.js';
import { workspaceId } from '../workspace/resolve.js';

/** The allowlist routes are keyed by the org id (the reference's shape); a slug alone cannot name it. */
function orgIdOf(ctx: CliContext): string {
  const id = ctx.resolve().orgId;
  if (!id) throw new CliError('the plugin allowlist needs the org id: pass --org <org-id> or set MOLECULE_ORG_ID', EXIT.USAGE, 'NO_ORG_ID');
  return id;
}

function whoami(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** `molecule plugin …`: the plugin catalog, a workspace's plugins, and the org's allowlist. */
export function register(program: Command): void {
  const plugin = program.command('plugin').alias('plugins').description('plugins: the catalog, install into / uninstall from a workspace, the org allowlist');
  examples(plugin, ['molecule plugin list', 'molecule plugin install writer github', 'molecule plugin allowlist get']);

  examples(
    plugin
      .command('list')
      .alias('ls')
      .description('list the plugins that can be installed')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.tenant().GET('/plugins');
          ctx.out.list(data ?? [], [
            { header: 'NAME', value: (p) => p.name },
            { header: 'VERSION', value: (p) => p.version },
            { header: 'DESCRIPTION', value: (p) => p.description },
            { header: 'REQUIRED ENV', value: (p) => p.required_env },
            { header: 'ORIGIN', value: (p) => p.origin },
          ], 'no plugins in the catalog');
        }),
      ),
    ['molecule plugin list', 'molecule plugin list --json | jq -r ".[].name"'],
  );

  examples(
    plugin
      .command('installed')
      .description("list a workspace's installed plugins")
      .argument('<workspace>', 'the workspace id or name')
      .action(
        action(async (ctx, workspace: string) => {
          const id = await workspaceId(ctx, workspace);
          const { data } = await ctx.tenant().GET('/workspaces/{id}/plugins', { params: { path: { id } } });
          ctx.out.list(data ?? [], [
            { header: 'NAME', value: (p) => p.name },
            { header: 'VERSION', value: (p) => p.version },
            { header: 'SOURCE', value: (p) => p.source },
            { header: 'INSTALLED BY', value: (p) => p.installed_by },
            { header: 'INSTALLED', value: (p) => p.installed_at },
          ], 'no plugins installed');
        }),
      ),
    ['molecule plugin installed writer', 'molecule plugin installed writer --json'],
  );

  examples(
    plugin
      .command('install')
      .description('install a catalog plugin into a workspace (materialised at its next start, or now with --restart)')
      .argument('<workspace>', 'the workspace id or name')
      .argument('<name>', 'the plugin name (name@version pins a version)')
      .option('--restart', 'restart the running workspace now')
      .action(
        action(async (ctx, workspace: string, name: string, opts: { restart?: boolean }) => {
          const id = await workspaceId(ctx, workspace);
          const { data } = await ctx.tenant().POST('/workspaces/{id}/plugins', { params: { path: { id } }, body: { source: name, ...(opts.restart ? { restart: true } : {}) } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`installed ${data!.plugin}@${data!.version} into ${workspace}${data!.restarting ? ' (restarting)' : ' (at its next start)'}`);
        }),
      ),
    ['molecule plugin install writer github', 'molecule plugin install writer github@1.2.0 --restart'],
  );

  examples(
    plugin
      .command('uninstall')
      .description('remove a plugin from a workspace (asks you to type its name; --yes without a terminal)')
      .argument('<workspace>', 'the workspace id or name')
      .argument('<name>', 'the plugin name')
      .option('--restart', 'restart the running workspace now')
      .action(
        action(async (ctx, workspace: string, name: string, opts: { restart?: boolean }) => {
          const id = await workspaceId(ctx, workspace);
          await confirmByName(ctx, `uninstall plugin ${name} from ${workspace}`, name);
          const { data } = await ctx.tenant().DELETE('/workspaces/{id}/plugins/{name}', { params: { path: { id, name }, query: opts.restart ? { restart: true } : {} } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`uninstalled ${data!.plugin} from ${workspace}${data!.restarting ? ' (restarting)' : ''}`);
        }),
      ),
    ['molecule plugin uninstall writer github', 'molecule plugin uninstall writer github --yes --restart'],
  );

  const allowlist = plugin.command('allowlist').description("the org's plugin allowlist (empty: every catalog plugin is allowed)");
  examples(allowlist, ['molecule plugin allowlist get', 'molecule plugin allowlist set github slack']);

  examples(
    allowlist
      .command('get')
      .description('show the allowlist')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.tenant().GET('/orgs/{id}/plugins/allowlist', { params: { path: { id: orgIdOf(ctx) } } });
          const a = data!;
          if (ctx.out.json) return ctx.out.data(a);
          if (a.allow_all) return ctx.out.note('the allowlist is empty: every catalog plugin may be installed');
          ctx.out.list(a.plugins, [
            { header: 'PLUGIN', value: (p) => p.plugin_name },
            { header: 'ENABLED BY', value: (p) => p.enabled_by },
            { header: 'ENABLED', value: (p) => p.enabled_at },
          ]);
        }),
      ),
    ['molecule plugin allowlist get', 'molecule plugin allowlist get --json | jq .allow_all'],
  );

  examples(
    allowlist
      .command('set')
      .description('replace the allowlist with these plugins (--allow-all empties it)')
      .argument('[names...]', 'the plugin names allowed')
      .option('--allow-all', 'empty the list: every catalog plugin may be installed')
      .option('--enabled-by <who>', 'recorded as who enabled them (default: cli:<your user name>)')
      .action(
        action(async (ctx, names: string[], opts: { allowAll?: boolean; enabledBy?: string }) => {
          if (names.length === 0 && !opts.allowAll) throw new CliError('name the plugins to allow, or pass --allow-all to allow every plugin', EXIT.USAGE);
          if (names.length > 0 && opts.allowAll) throw new CliError('--allow-all takes no plugin names', EXIT.USAGE);
          const { data } = await ctx.tenant().PUT('/orgs/{id}/plugins/allowlist', { params: { path: { id: orgIdOf(ctx) } }, body: { plugins: names, enabled_by: opts.enabledBy ?? whoami() } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(data!.allow_all ? 'allowlist emptied: every catalog plugin may be installed' : `allowlist set: ${data!.plugins.join(', ')}`);
        }),
      ),
    ['molecule plugin allowlist set github slack', 'molecule plugin allowlist set --allow-all'],
  );
}
