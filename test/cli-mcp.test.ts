/**
 * `molecule mcp` — the real CLI binary as an MCP server over stdio, driven by the MCP SDK's real Client: the tool list
 * follows the key (a reader key sees only read tools), and an admin key provisions and deprovisions a workspace.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { CLI, freshConfigDir, runCli } from './support/cli.js';

interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
}

forEachDatabase('molecule mcp over stdio', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { listen: true });
  });
  after(() => t.close());

  async function connect(key: string, args: string[] = []): Promise<Client> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'mcp', ...args],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', MOLECULE_CONFIG_DIR: freshConfigDir(), MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: key },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'cli-mcp-test', version: '1.0.0' });
    await client.connect(transport);
    return client;
  }

  it('a reader key is offered only read-only tools', async () => {
    const reader = await t.mintKey({ name: 'mcp-reader', role: 'reader' });
    const client = await connect(reader.auth_token, ['--toolsets', 'all']);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.length > 5, `${tools.length} tools`);
      for (const tool of tools) assert.equal(tool.annotations?.readOnlyHint, true, `${tool.name} is read-only`);
      const names = tools.map((x) => x.name);
      assert.ok(names.includes('list_workspaces'));
      assert.ok(!names.includes('provision_workspace'));
    } finally {
      await client.close();
    }
  });

  it('an admin key provisions and deprovisions a workspace; the deprovision needs the name', async () => {
    const admin = await t.mintKey({ name: 'mcp-admin', role: 'admin' });
    const client = await connect(admin.auth_token);
    try {
      const names = (await client.listTools()).tools.map((x) => x.name);
      assert.ok(names.includes('provision_workspace') && names.includes('deprovision_workspace'), names.join(','));
      const made = (await client.callTool({ name: 'provision_workspace', arguments: { name: 'via-molecule-mcp' } })) as ToolResult;
      assert.notEqual(made.isError, true, JSON.stringify(made));
      const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
      const ws = (list.json() as Array<{ id: string; name: string }>).find((w) => w.name === 'via-molecule-mcp');
      assert.ok(ws, 'the workspace exists');
      const unconfirmed = (await client.callTool({ name: 'deprovision_workspace', arguments: { workspace_id: ws.id, confirm_name: 'wrong' } })) as ToolResult;
      assert.equal(unconfirmed.isError, true);
      assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 200, 'still there');
      const removed = (await client.callTool({ name: 'deprovision_workspace', arguments: { workspace_id: ws.id, confirm_name: 'via-molecule-mcp' } })) as ToolResult;
      assert.notEqual(removed.isError, true, JSON.stringify(removed));
      assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 404);
    } finally {
      await client.close();
    }
  });

  it('refuses to start without credentials (exit 4) or with an unknown toolset (exit 3)', async () => {
    const none = await runCli(['mcp'], { env: { MOLECULE_API_URL: t.url } });
    assert.equal(none.code, 4);
    assert.match(none.stderr, /molecule mcp needs an org/);
    const admin = await t.mintKey({ name: 'mcp-bad-toolset' });
    const bad = await runCli(['mcp', '--toolsets', 'nonsense'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: admin.auth_token } });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /unknown toolset nonsense/);
    const revoked = await runCli(['mcp'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: 'mola_not_a_real_key' } });
    assert.equal(revoked.code, 4, revoked.stderr);
  });
});
