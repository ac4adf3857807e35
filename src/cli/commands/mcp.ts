import type { Command } from 'commander';
import { runMcpStdio } from '../../mcp/stdio.js';
import { action, examples } from '../command.js';
import { CliError, EXIT } from '../exit-codes.js';
import { version } from '../version.js';

interface McpOptions {
  readOnly?: boolean;
  toolsets?: string;
}

/**
 * `molecule mcp`: the MCP server over stdio for agents and MCP clients, with the CLI's credentials. The tools offered
 * follow the credential (GET /auth/self), narrowed by --read-only and --toolsets.
 */
export function register(program: Command): void {
  examples(
    program
      .command('mcp')
      .description("serve the org's (and, with a CP credential, the control plane's) MCP tools over stdio")
      .option('--read-only', 'offer only tools that change nothing')
      .option('--toolsets <list>', 'comma-separated toolsets (default: self,workspaces,secrets,approvals[,orgs]; "all" for every one)')
      .action(
        action(async (ctx, opts: McpOptions) => {
          const r = ctx.resolve();
          const tenant = r.tenantUrl && r.tenantCredential ? ctx.tenantOptions() : undefined;
          const controlPlane = r.cpCredential ? ctx.cpOptions() : undefined;
          if (!tenant && !controlPlane) {
            throw new CliError('molecule mcp needs an org (MOLECULE_API_URL or MOLECULE_ORG_SLUG with MOLECULE_API_KEY, or `molecule auth login`) or a control-plane credential', EXIT.UNAUTHENTICATED, 'NOT_AUTHENTICATED');
          }
          const toolsets = opts.toolsets?.split(',').map((t) => t.trim()).filter(Boolean);
          try {
            await runMcpStdio({
              ...(tenant ? { tenant } : {}),
              ...(controlPlane ? { controlPlane } : {}),
              ...(opts.readOnly ? { readOnly: true } : {}),
              ...(toolsets ? { toolsets } : {}),
              version,
            });
          } catch (err) {
            if (err instanceof Error && /^unknown toolset/.test(err.message)) throw new CliError(err.message, EXIT.USAGE);
            throw err;
          }
        }),
      ),
    [
      'MOLECULE_API_URL=http://acme.localhost:8080 MOLECULE_API_KEY=mola_… molecule mcp',
      'molecule mcp --read-only --toolsets workspaces,audit',
      'molecule mcp --toolsets all',
    ],
  );
}
