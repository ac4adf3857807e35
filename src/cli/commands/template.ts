import path from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { action, examples } from '../command.js';
import { confirmByName } from '../prompts.js';
import { heldForApproval, readTemplateDir } from '../resources/common.js';
import { workspaceId } from '../workspace/resolve.js';

/** The template's name: --name, else config.yaml's `name:`, else the folder's name. */
function templateName(dir: string, files: Record<string, string>, name?: string): string {
  if (name) return name;
  const config = files['config.yaml'] ?? files['config.yml'];
  if (config) {
    try {
      const parsed = parseYaml(config) as { name?: unknown } | null;
      if (parsed && typeof parsed.name === 'string' && parsed.name.trim()) return parsed.name.trim();
    } catch {
      // the server reports an invalid config.yaml with its own message
    }
  }
  return path.basename(path.resolve(dir));
}

/** `molecule template …`: the org's workspace templates (GET/PUT/DELETE /templates, import, refresh, switch). */
export function register(program: Command): void {
  const template = program.command('template').alias('templates').description('workspace templates: list, inspect, import from a folder, update, delete, switch a workspace');
  examples(template, ['molecule template list', 'molecule template import ./my-agent --name my-agent', 'molecule template switch writer my-agent']);

  examples(
    template
      .command('list')
      .alias('ls')
      .description('list the templates workspaces can be created from')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.tenant().GET('/templates');
          ctx.out.list(data ?? [], [
            { header: 'ID', value: (t) => t.id },
            { header: 'NAME', value: (t) => t.name },
            { header: 'RUNTIME', value: (t) => t.runtime },
            { header: 'MODEL', value: (t) => t.model },
            { header: 'TIER', value: (t) => t.tier },
            { header: 'SKILLS', value: (t) => t.skill_count },
          ], 'no templates');
        }),
      ),
    ['molecule template list', 'molecule template list --json | jq -r ".[].id"'],
  );

  examples(
    template
      .command('inspect')
      .description('show one template: its settings, version and files')
      .argument('<id>', 'the template id (see `molecule template list`)')
      .option('--content', 'include each file\'s text (in --json)')
      .action(
        action(async (ctx, id: string, opts: { content?: boolean }) => {
          const { data } = await ctx.tenant().GET('/templates/{id}', { params: { path: { id }, query: opts.content ? { content: true } : {} } });
          const t = data!;
          if (ctx.out.json) return ctx.out.data(t);
          ctx.out.record({ id: t.id, name: t.name, description: t.description, runtime: t.runtime, model: t.model, tier: t.tier, version: t.version, source: t.source, skills: t.skills, required_env: t.required_env ?? [], updated: t.updated_at });
          ctx.out.stdout.write('\n');
          ctx.out.list(t.files, [
            { header: 'FILE', value: (f) => f.path },
            { header: 'SIZE', value: (f) => f.size },
            { header: 'SHA256', value: (f) => f.sha256.slice(0, 12) },
          ], 'no files');
        }),
      ),
    ['molecule template inspect claude-code-default', 'molecule template inspect my-agent --content --json'],
  );

  examples(
    template
      .command('import')
      .description('import a local folder (config.yaml and its files) as a new template')
      .argument('<dir>', 'the folder to send: every text file in it, paths relative to it')
      .option('--name <name>', "the template's name (default: config.yaml's name, else the folder's name)")
      .action(
        action(async (ctx, dir: string, opts: { name?: string }) => {
          const files = readTemplateDir(dir);
          const name = templateName(dir, files, opts.name);
          const { data } = await ctx.tenant().POST('/templates/import', { body: { name, files } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`imported template ${data!.id} (${Object.keys(files).length} files)`);
        }),
      ),
    ['molecule template import ./my-agent', 'molecule template import ./agents/writer --name writer --json'],
  );

  examples(
    template
      .command('update')
      .description("replace a template's files with a local folder's (a new version)")
      .argument('<id>', 'the template id')
      .argument('<dir>', 'the folder to send')
      .option('--name <name>', "the template's name (default: config.yaml's name, else the folder's name)")
      .action(
        action(async (ctx, id: string, dir: string, opts: { name?: string }) => {
          const files = readTemplateDir(dir);
          const name = templateName(dir, files, opts.name);
          const { data } = await ctx.tenant().PUT('/templates/{id}', { params: { path: { id } }, body: { name, files } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`updated template ${data!.id} to version ${data!.version}`);
        }),
      ),
    ['molecule template update my-agent ./my-agent'],
  );

  examples(
    template
      .command('delete')
      .alias('rm')
      .description('delete a template (asks you to type its id; --yes without a terminal)')
      .argument('<id>', 'the template id')
      .action(
        action(async (ctx, id: string) => {
          await confirmByName(ctx, `delete template ${id}`, id);
          const { data } = await ctx.tenant().DELETE('/templates/{id}', { params: { path: { id } } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`deleted template ${id}`);
        }),
      ),
    ['molecule template delete my-agent', 'molecule template delete my-agent --yes'],
  );

  examples(
    template
      .command('refresh')
      .description('reload the built-in templates and those of the server\'s templates folder')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.tenant().POST('/admin/templates/refresh');
          const r = data!;
          if (ctx.out.json) return ctx.out.data(r);
          ctx.out.success(`refreshed: ${r.loaded.length} loaded, ${r.updated.length} updated, ${r.unchanged.length} unchanged, ${r.skipped.length} skipped`);
          for (const s of r.skipped) ctx.out.warn(`skipped ${s.id} (${s.source}): ${s.error}`);
        }),
      ),
    ['molecule template refresh', 'molecule template refresh --json | jq .skipped'],
  );

  examples(
    template
      .command('switch')
      .description('switch a workspace to another template (it restarts if running)')
      .argument('<workspace>', 'the workspace id or name')
      .argument('<template>', 'the template id')
      .action(
        action(async (ctx, workspace: string, templateId: string) => {
          const id = await workspaceId(ctx, workspace);
          const { data } = await ctx.tenant().PATCH('/workspaces/{id}/template', { params: { path: { id } }, body: { template: templateId } });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          ctx.out.success(`workspace ${id} now uses template ${data!.template}${data!.restarting ? ' (restarting)' : ''}`);
        }),
      ),
    ['molecule template switch writer my-agent', 'molecule template switch 3f2a…-… claude-code-default --json'],
  );
}
