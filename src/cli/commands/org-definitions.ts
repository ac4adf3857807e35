import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ApiError } from '../../sdk/client.js';
import { action, examples } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { envName, printPlan, printResult, type ImportBody, type PlanBody } from '../org-import/render.js';
import { confirm } from '../prompts.js';
import { emit, readLocalFile } from '../resources/common.js';

interface ImportOptions {
  template?: string;
  dir?: string;
  file?: string;
  mode: 'merge' | 'reconcile';
  dryRun?: boolean;
}

type ImportRequest = { dir: string } | { template: Record<string, unknown> };

/** The request body from exactly one source: a server-side template (`--template`/`--dir`) or a local file. */
function importSource(opts: ImportOptions): ImportRequest {
  const given = [opts.template, opts.dir, opts.file].filter((v) => v !== undefined).length;
  if (given !== 1) throw new CliError('give exactly one of --template <name>, --dir <name> or --file <org.yaml>', EXIT.USAGE);
  if (opts.file === undefined) return { dir: (opts.template ?? opts.dir)! };
  let parsed: unknown;
  try {
    parsed = parseYaml(readLocalFile(opts.file));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${opts.file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, EXIT.USAGE);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${opts.file} must hold an org template (a mapping with name and workspaces)`, EXIT.USAGE);
  return { template: parsed as Record<string, unknown> };
}

function missingEnv(ctx: CliContext, missing: unknown[], template: string): CliError {
  const names = missing.map((m) => envName(m as Parameters<typeof envName>[0]));
  if (!ctx.out.json) for (const n of names) ctx.out.note(`  missing: ${n}`);
  return new CliError(
    `template ${template} needs org-wide secrets that are not set: ${names.join('; ')} — set them (molecule secret set --global …) and run again`,
    EXIT.CONFLICT,
    'ORG_REQUIRED_ENV_MISSING',
  );
}

async function runImport(ctx: CliContext, opts: ImportOptions): Promise<void> {
  const body = importSource(opts);
  const client = ctx.tenant();
  const label = 'dir' in body ? body.dir : String(body.template['name'] ?? opts.file);
  const { data: planData } = await client.POST('/org/import', { params: { query: { dry_run: true, mode: opts.mode } }, body: body as never });
  const plan = planData as unknown as PlanBody;
  // Under --json stdout holds one document: the plan when it is all there is, else the import's result.
  if (!ctx.out.json) printPlan(ctx, plan);
  else if (opts.dryRun || !ctx.yes) ctx.out.data(plan);
  if (!plan.preflight.ok) throw missingEnv(ctx, plan.preflight.missing_env, label);
  if (opts.dryRun) return;
  if (plan.summary.create === 0 && plan.summary.remove === 0) {
    if (!ctx.out.json) ctx.out.success('nothing to do: every workspace is already there');
    return;
  }
  if (!ctx.yes && !ctx.out.interactive) {
    throw new CliError('not applied: pass --yes to apply this plan without a terminal (or --dry-run to only show it)', EXIT.USAGE, 'CONFIRMATION_REQUIRED');
  }
  await confirm(ctx, `Apply? (${plan.summary.create} to create, ${plan.summary.remove} to remove)`);
  let result;
  try {
    result = await client.POST('/org/import', { params: { query: { mode: opts.mode } }, body: body as never });
  } catch (err) {
    if (err instanceof ApiError && err.status === 412) {
      const b = err.body as { missing_env?: unknown[] } | null;
      throw missingEnv(ctx, b?.missing_env ?? [], label);
    }
    throw err;
  }
  const r = result.data as unknown as ImportBody;
  if (ctx.out.json) ctx.out.data(r);
  else printResult(ctx, r);
  if (result.response.status === 207) {
    if (!ctx.out.json) ctx.out.warn(`created, but some runtimes did not start: ${r.error ?? 'see the workspaces\' status'}`);
    process.exitCode = EXIT.ERROR;
    return;
  }
  if (!ctx.out.json) ctx.out.success(`imported: ${r.created_count} created, ${r.skipped_count} skipped${r.reconcile_removed_count ? `, ${r.reconcile_removed_count} removed` : ''}`);
}

/**
 * The org-definition subcommands of `molecule org` (import, templates, export); `org.ts` creates the `org` command
 * and calls this, so another group can own the org's other verbs.
 */
export function registerOrgDefinitions(org: Command): void {
  examples(
    org
      .command('import')
      .description('create a workspace tree from an org template: shows the plan (a dry run), asks, then applies')
      .option('--template <name>', 'an org template of the server (see `molecule org templates`)')
      .option('--dir <name>', 'the same as --template (the API\'s field name)')
      .option('--file <org.yaml>', 'a local org.yaml (or JSON; "-" for stdin); !include is not expanded')
      .addOption(new Option('--mode <mode>', 'merge: create what is missing; reconcile: also remove what the file no longer lists').choices(['merge', 'reconcile']).default('merge'))
      .option('--dry-run', 'only show the plan')
      .action(action(async (ctx, opts: ImportOptions) => runImport(ctx, opts))),
    [
      'molecule org import --template starter-team',
      'molecule org import --file org.yaml --dry-run',
      'molecule org import --file org.yaml --mode reconcile --yes',
      'molecule org import --template starter-team --yes --json | jq ".workspaces[] | {name, auth_token}"',
    ],
  );

  examples(
    org
      .command('templates')
      .description('list the org templates the server offers')
      .action(
        action(async (ctx) => {
          const { data } = await ctx.tenant().GET('/org/templates');
          ctx.out.list(data ?? [], [
            { header: 'TEMPLATE', value: (t) => t.dir },
            { header: 'NAME', value: (t) => t.name },
            { header: 'WORKSPACES', value: (t) => t.workspaces },
            { header: 'REQUIRED ENV', value: (t) => t.required_env.map((e) => envName(e as Parameters<typeof envName>[0])) },
            { header: 'SOURCE', value: (t) => t.source },
          ], 'no org templates');
        }),
      ),
    ['molecule org templates', 'molecule org templates --json | jq -r ".[].dir"'],
  );

  examples(
    org
      .command('export')
      .description('export the live workspace tree as an org template (YAML; JSON with --json)')
      .option('--out <file>', 'write it to this file instead of stdout')
      .action(
        action(async (ctx, opts: { out?: string }) => {
          const format = ctx.out.json ? 'json' : 'yaml';
          const { data } = await ctx.tenant().GET('/org/export', { params: { query: { format } }, parseAs: 'text' });
          emit(ctx, String(data ?? ''), opts.out, `the org template (${format})`);
        }),
      ),
    ['molecule org export > org.yaml', 'molecule org export --out org.yaml', 'molecule org export --json | jq .workspaces'],
  );
}
