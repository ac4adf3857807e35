import type { Command } from 'commander';
import { action, examples } from '../command.js';

/** The reference Go CLI's `platform health`, kept by name so its users' scripts keep working. */
export function register(program: Command): void {
  const platform = program.command('platform').description("the platform's health (the reference CLI's verbs)");
  examples(platform, ['molecule platform health']);
  examples(
    platform
      .command('health')
      .description("check that the org's server (or, with no org selected, the control plane) answers")
      .action(
        action(async (ctx) => {
          const r = ctx.resolve();
          const target = r.tenantUrl ? 'tenant' : 'control plane';
          const { data } = r.tenantUrl ? await ctx.tenant(true).GET('/health') : await ctx.cp(true).GET('/health');
          const body = (data ?? {}) as Record<string, unknown>;
          if (ctx.out.json) return ctx.out.data(body);
          ctx.out.record({ service: target, url: r.tenantUrl ?? r.cpUrl, ...body });
        }),
      ),
    ['molecule platform health', 'molecule platform health -o json', 'MOLECULE_API_URL=http://acme.localhost:8080 molecule platform health'],
  );
}
