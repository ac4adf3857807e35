/**
 * `molecule mcp` as a real child process for test/mcp.test.ts: the options come from the environment a user would set
 * (MOLECULE_API_URL, MOLECULE_API_KEY, MOLECULE_ORG_ID; MOLECULE_CP_URL with MOLECULE_SESSION or MOLECULE_PARTNER_KEY;
 * MCP_READ_ONLY, MCP_TOOLSETS). stdout is the protocol; a failure is one line on stderr and exit 1.
 */
import { runMcpStdio, type McpStdioOptions } from '../../src/mcp/stdio.js';

const env = process.env;
const options: McpStdioOptions = {
  readOnly: env['MCP_READ_ONLY'] === 'true',
  ...(env['MCP_TOOLSETS'] ? { toolsets: env['MCP_TOOLSETS'].split(',') } : {}),
};
if (env['MOLECULE_API_URL']) {
  options.tenant = {
    baseUrl: env['MOLECULE_API_URL'],
    ...(env['MOLECULE_API_KEY'] ? { credential: { type: env['MOLECULE_API_KEY'].startsWith('molw_') ? 'workspace-token' : 'org-key', token: env['MOLECULE_API_KEY'] } } : {}),
    ...(env['MOLECULE_ORG_ID'] ? { orgId: env['MOLECULE_ORG_ID'] } : {}),
    retry: { retries: 0 },
  };
}
if (env['MOLECULE_CP_URL']) {
  const credential = env['MOLECULE_SESSION']
    ? { type: 'session' as const, token: env['MOLECULE_SESSION'] }
    : env['MOLECULE_PARTNER_KEY']
      ? { type: 'partner-key' as const, token: env['MOLECULE_PARTNER_KEY'] }
      : undefined;
  options.controlPlane = { baseUrl: env['MOLECULE_CP_URL'], ...(credential ? { credential } : {}), retry: { retries: 0 } };
}

try {
  await runMcpStdio(options);
} catch (err) {
  process.stderr.write(`molecule mcp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
