import type { Command } from 'commander';
import { action, examples } from '../command.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, heldForApproval, readLocalFile } from '../resources/common.js';
import { workspaceId } from '../workspace/resolve.js';

/** `molecule bundle …`: a workspace (and its sub-workspaces) as one portable JSON file, and back. */
export function register(program: Command): void {
  const bundle = program.command('bundle').alias('bundles').description('export a workspace as a bundle file; import a bundle as new workspaces');
  examples(bundle, ['molecule bundle export writer --out writer.bundle.json', 'molecule bundle import writer.bundle.json']);

  examples(
    bundle
      .command('export')
      .description('export a workspace (files, skills, prompts, sub-workspaces) as bundle JSON')
      .argument('<workspace>', 'the workspace id or name')
      .option('--out <file>', 'write it to this file instead of stdout')
      .action(
        action(async (ctx, workspace: string, opts: { out?: string }) => {
          const id = await workspaceId(ctx, workspace);
          const { data } = await ctx.tenant().GET('/bundles/export/{id}', { params: { path: { id } } });
          emit(ctx, JSON.stringify(data, null, 2), opts.out, `bundle of ${data!.name}`);
        }),
      ),
    ['molecule bundle export writer > writer.json', 'molecule bundle export 3f2a…-… --out writer.json'],
  );

  examples(
    bundle
      .command('import')
      .description('create new workspaces from a bundle file ("-" for stdin)')
      .argument('<file>', 'the bundle JSON')
      .action(
        action(async (ctx, file: string) => {
          let body: unknown;
          try {
            body = JSON.parse(readLocalFile(file));
          } catch (err) {
            if (err instanceof CliError) throw err;
            throw new CliError(`${file} is not JSON: ${(err as Error).message}`, EXIT.USAGE);
          }
          if (!body || typeof body !== 'object' || Array.isArray(body)) throw new CliError(`${file} is not a bundle (a JSON object)`, EXIT.USAGE);
          const { data } = await ctx.tenant().POST('/bundles/import', { body: body as never });
          if (heldForApproval(ctx, data)) return;
          if (ctx.out.json) return ctx.out.data(data);
          const r = data!;
          const count = (n: { children?: unknown[] }): number => 1 + (n.children ?? []).reduce<number>((s, c) => s + count(c as { children?: unknown[] }), 0);
          ctx.out.success(`imported ${r.name} as workspace ${r.workspace_id} (${r.status}${count(r) > 1 ? `, ${count(r)} workspaces in all` : ''})`);
        }),
      ),
    ['molecule bundle import writer.json', 'molecule bundle export writer | molecule bundle import -'],
  );
}
