/**
 * The MCP servers (issue 13 item 3), driven by the MCP SDK's real `Client`: over Streamable HTTP against a tenant's
 * /mcp on loopback, and over stdio against `molecule mcp` run as a real child process (test/support/mcp-stdio-child.ts).
 * Every tool is listed and called at least once with its effect checked through the API; the scoping rules (role,
 * binding, workspace token, --read-only, --toolsets), the annotations, the typed-name confirmation, the approval gate
 * and the error mapping are each checked; the control-plane tools run against a real control plane.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { CATALOGUE } from '../src/mcp/catalogue.js';
import { startTestControlPlane, type TestControlPlane } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const CHILD = fileURLToPath(new URL('./support/mcp-stdio-child.js', import.meta.url));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface ToolAnswer {
  isError: boolean;
  text: string;
  /** The first text block parsed as JSON, when it is JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tool answers are free-form JSON; each test reads the fields it checks
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const res = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ type: string; text: string }> };
  const text = res.content.map((c) => c.text).join('\n');
  let json: unknown = undefined;
  try {
    json = JSON.parse(res.content[0]!.text);
  } catch {
    // not JSON (a refusal, a pending approval's sentence, a YAML export)
  }
  return { isError: res.isError === true, text, json };
}

/** Calls a tool that must succeed; the assertion names the tool and shows its answer. */
async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const a = await call(client, name, args);
  assert.equal(a.isError, false, `${name} failed: ${a.text}`);
  return a;
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name).sort();
}

// The default toolsets (self, workspaces, secrets, approvals), per credential — written out, not derived from the code.
const DEFAULT_ADMIN = [
  'whoami', 'list_workspaces', 'get_workspace', 'provision_workspace', 'deprovision_workspace', 'restart_workspace', 'pause_workspace', 'resume_workspace',
  'get_workspace_logs', 'list_workspace_secrets', 'set_workspace_secret', 'delete_workspace_secret', 'list_global_secrets', 'set_global_secret',
  'delete_global_secret', 'list_pending_approvals', 'get_approval', 'decide_approval',
].sort();
const DEFAULT_READER = ['whoami', 'list_workspaces', 'get_workspace', 'list_workspace_secrets', 'list_global_secrets', 'list_pending_approvals', 'get_approval'].sort();
const DEFAULT_EDITOR = DEFAULT_ADMIN.filter((n) => !['get_workspace_logs', 'set_global_secret', 'delete_global_secret'].includes(n));
const DEFAULT_BOUND = DEFAULT_ADMIN.filter((n) => !['provision_workspace', 'list_global_secrets', 'set_global_secret', 'delete_global_secret'].includes(n));
const DEFAULT_WORKSPACE_TOKEN = ['whoami', 'get_workspace', 'restart_workspace', 'pause_workspace', 'resume_workspace', 'list_workspace_secrets', 'set_workspace_secret', 'delete_workspace_secret'].sort();
const TENANT_TOOLS = CATALOGUE.filter((t) => t.scope !== 'cp').map((t) => t.name).sort();

forEachDatabase('MCP servers', (kind) => {
  let t: TestTenant;
  const clients: Client[] = [];
  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { CHANNEL_ALLOWED_NETWORKS: '127.0.0.1' } });
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await t.close();
  });

  async function http(bearer: string, query = ''): Promise<Client> {
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp${query}`), {
      requestInit: { headers: { authorization: `Bearer ${bearer}`, 'x-molecule-org-id': t.orgId } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  async function stdio(env: Record<string, string>): Promise<Client> {
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CHILD], env, stderr: 'pipe' }));
    clients.push(client);
    return client;
  }

  const tenantEnv = (key: string, extra: Record<string, string> = {}) => ({ MOLECULE_API_URL: t.url, MOLECULE_API_KEY: key, MOLECULE_ORG_ID: t.orgId, ...extra });
  const workspaceStatus = async (id: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/workspaces/${id}?include_removed=true`, headers: t.admin() });
    return res.statusCode === 200 ? (res.json() as { status: string }).status : `HTTP ${res.statusCode}`;
  };
  const selfOf = (bearer: string) => t.app.inject({ method: 'GET', url: '/auth/self', headers: t.as(bearer) });

  describe('the /mcp endpoint', () => {
    const rpc = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    const accept = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

    it('no credential, a bad one, a revoked one, or only a session cookie → 401 envelope, and no tool list', async () => {
      const revoked = await t.mintKey({ name: 'mcp-revoked' });
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/org/tokens/${revoked.id}`, headers: t.admin() })).statusCode, 200);
      const session = mintCredential('session').plaintext;
      for (const [label, headers, code, message] of [
        ['none', {}, 'ADMIN_AUTH_REQUIRED', 'admin auth required'],
        ['cookie only', { cookie: `mcp_session=${session}` }, 'ADMIN_AUTH_REQUIRED', 'admin auth required'],
        ['unknown key', { authorization: `Bearer ${mintCredential('orgKey').plaintext}` }, 'INVALID_ADMIN_AUTH', 'invalid admin auth token'],
        ['revoked key', { authorization: `Bearer ${revoked.auth_token}` }, 'INVALID_ADMIN_AUTH', 'invalid admin auth token'],
      ] as const) {
        const res = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...accept, 'x-molecule-org-id': t.orgId, ...headers }, body: JSON.stringify(rpc) });
        const body = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, 401, label);
        assert.deepEqual([body['code'], body['error']], [code, message], label);
        assert.match(String(body['request_id']), /^req_/, label);
        assert.ok(!JSON.stringify(body).includes('list_workspaces'), label);
      }
      // Even a malformed body gets the 401 first: a stranger learns nothing about what the endpoint accepts.
      const junk = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...accept, 'x-molecule-org-id': t.orgId }, body: '{"not":"rpc"}' });
      assert.equal(junk.status, 401);
    });

    it('TenantGuard applies: no org header → 400, another org → 404 with an empty body', async () => {
      const missing = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...accept, authorization: `Bearer ${t.adminToken}` }, body: JSON.stringify(rpc) });
      assert.equal(missing.status, 400);
      assert.equal(((await missing.json()) as { code: string }).code, 'TENANT_ORG_HEADER_REQUIRED');
      const wrong = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...accept, authorization: `Bearer ${t.adminToken}`, 'x-molecule-org-id': newUuid() }, body: JSON.stringify(rpc) });
      assert.equal(wrong.status, 404);
      assert.equal(await wrong.text(), '');
    });

    it('GET and DELETE → 405 (stateless), a wrong Accept → 406, an unknown toolset → 400 naming the valid ones', async () => {
      for (const method of ['GET', 'DELETE']) {
        const res = await fetch(`${t.url}/mcp`, { method, headers: t.admin() });
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.get('allow'), 'POST');
        assert.equal(((await res.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
      }
      const notAcceptable = await fetch(`${t.url}/mcp`, { method: 'POST', headers: { ...t.admin(), accept: 'text/html', 'content-type': 'application/json' }, body: JSON.stringify(rpc) });
      assert.equal(notAcceptable.status, 406);
      const body = (await notAcceptable.json()) as { code: string; error: string };
      assert.equal(body.code, 'NOT_ACCEPTABLE');
      assert.match(body.error, /application\/json and text\/event-stream/);
      const unknown = await fetch(`${t.url}/mcp?toolsets=workspaces,nope`, { method: 'POST', headers: { ...t.admin(), ...accept }, body: JSON.stringify(rpc) });
      assert.equal(unknown.status, 400);
      const u = (await unknown.json()) as { code: string; error: string };
      assert.equal(u.code, 'VALIDATION_FAILED');
      assert.match(u.error, /unknown toolset nope: choose from all, self, workspaces/);
    });

    it('rate-limited per credential: past MCP_RATE_LIMIT a minute → 429 with Retry-After, another credential unaffected', async () => {
      const limited = await startTestTenant(kind, { env: { MCP_RATE_LIMIT: '2' } });
      try {
        const post = (bearer: string) =>
          limited.app.inject({ method: 'POST', url: '/mcp', headers: { ...limited.as(bearer), ...accept }, payload: rpc });
        const key = await limited.mintKey({ name: 'mcp-limited' });
        assert.deepEqual([(await post(key.auth_token)).statusCode, (await post(key.auth_token)).statusCode], [200, 200]);
        const third = await post(key.auth_token);
        assert.equal(third.statusCode, 429, third.body);
        assert.equal(third.json().code, 'RATE_LIMITED');
        assert.ok(Number(third.headers['retry-after']) > 0);
        assert.equal((await post(limited.adminToken)).statusCode, 200);
      } finally {
        await limited.close();
      }
    });

    it('the calls a tool makes are audited under the caller’s credential', async () => {
      const key = await t.mintKey({ name: 'mcp-audited' });
      const client = await http(key.auth_token);
      await ok(client, 'list_workspaces');
      const actor = `org-token:${key.prefix}`;
      const routes = await waitFor('the audit events of the MCP calls', async () => {
        const res = await t.app.inject({ method: 'GET', url: `/audit?actor=${encodeURIComponent(actor)}&limit=100`, headers: t.admin() });
        const r = (res.json() as { events: Array<{ method: string; route: string }> }).events.map((e) => `${e.method} ${e.route}`);
        return r.includes('GET /workspaces') ? r : undefined;
      });
      assert.ok(routes.includes('POST /mcp'), routes.join(', '));
    });
  });

  describe('the catalogue over HTTP', () => {
    it('every tool has a title and all four annotations; destructive ones require confirm_name; read-only ones are not destructive', async () => {
      const client = await http(t.adminToken, '?toolsets=all');
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((x) => x.name).sort(), TENANT_TOOLS);
      for (const tool of tools) {
        assert.ok(tool.title && tool.title.length > 0, `${tool.name} title`);
        assert.ok(tool.description && tool.description.length > 0, `${tool.name} description`);
        assert.match(tool.name, /^[a-z]+(_[a-z]+)*$/, `${tool.name} is verb_noun`);
        const a = tool.annotations ?? {};
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) assert.equal(typeof a[hint], 'boolean', `${tool.name} ${hint}`);
        if (a.readOnlyHint) assert.equal(a.destructiveHint, false, `${tool.name} read-only yet destructive`);
        const required = (tool.inputSchema as { required?: string[] }).required ?? [];
        assert.equal(required.includes('confirm_name'), a.destructiveHint === true, `${tool.name}: confirm_name required exactly when destructive`);
      }
      // The reference management MCP's names, so agent prompts written for it keep working.
      for (const name of ['list_workspaces', 'provision_workspace', 'deprovision_workspace', 'set_workspace_secret', 'mint_org_token', 'export_bundle', 'create_org_from_template', 'list_pending_approvals']) {
        assert.ok(tools.some((x) => x.name === name), name);
      }
    });

    it('every tenant tool, called with an admin key, does what it says', async () => {
      const adminKey = await t.mintKey({ name: 'mcp-admin' });
      const client = await http(adminKey.auth_token, '?toolsets=all');
      const called = new Set<string>();
      const use = async (name: string, args: Record<string, unknown> = {}) => {
        called.add(name);
        return ok(client, name, args);
      };

      assert.equal((await use('whoami')).json.credential_id, adminKey.id);

      // workspaces
      const provisioned = (await use('provision_workspace', { name: `mcp-ws-${Date.now()}`, external: true })).json as { id: string; name: string; auth_token: string };
      assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${provisioned.id}`, headers: t.admin() })).json().name, provisioned.name);
      assert.ok(((await use('list_workspaces')).json as Array<{ id: string }>).some((w) => w.id === provisioned.id));
      assert.equal((await use('get_workspace', { workspace_id: provisioned.id })).json.name, provisioned.name);
      await use('pause_workspace', { workspace_id: provisioned.id });
      assert.equal(await workspaceStatus(provisioned.id), 'paused');
      await use('resume_workspace', { workspace_id: provisioned.id });
      assert.notEqual(await workspaceStatus(provisioned.id), 'paused');
      assert.equal((await use('restart_workspace', { workspace_id: provisioned.id })).json.status, 'noop', 'an external workspace has no process to restart');
      assert.equal((await use('get_workspace_logs', { workspace_id: provisioned.id })).json.workspace_id, provisioned.id);

      // secrets: the value goes in (the workspace's own token reads it back) and never comes out of a tool
      const value = `mcp-secret-${Date.now()}`;
      await use('set_workspace_secret', { workspace_id: provisioned.id, key: 'MCP_SECRET', value });
      const values = await t.app.inject({ method: 'GET', url: `/workspaces/${provisioned.id}/secrets/values`, headers: t.as(provisioned.auth_token) });
      assert.equal(values.statusCode, 200, values.body);
      assert.ok(values.body.includes(value));
      const listed = await use('list_workspace_secrets', { workspace_id: provisioned.id });
      assert.deepEqual((listed.json as Array<{ key: string }>).map((s) => s.key), ['MCP_SECRET']);
      assert.ok(!listed.text.includes(value));
      await use('delete_workspace_secret', { workspace_id: provisioned.id, key: 'MCP_SECRET', confirm_name: 'MCP_SECRET' });
      assert.deepEqual((await use('list_workspace_secrets', { workspace_id: provisioned.id })).json, []);
      await use('set_global_secret', { key: 'MCP_GLOBAL', value });
      const globals = await use('list_global_secrets');
      assert.ok((globals.json as Array<{ key: string }>).some((s) => s.key === 'MCP_GLOBAL'));
      assert.ok(!globals.text.includes(value));
      await use('delete_global_secret', { key: 'MCP_GLOBAL', confirm_name: 'MCP_GLOBAL' });
      assert.ok(!((await use('list_global_secrets')).json as Array<{ key: string }>).some((s) => s.key === 'MCP_GLOBAL'));

      // keys: a minted key works, a rotated one is replaced, a revoked one stops working
      const minted = (await use('mint_org_token', { name: 'mcp-minted', role: 'reader' })).json as { id: string; auth_token: string };
      assert.equal((await selfOf(minted.auth_token)).json().role, 'reader');
      assert.ok(((await use('list_org_tokens', { limit: 100 })).json as { tokens: Array<{ id: string }> }).tokens.some((k) => k.id === minted.id));
      const rotated = (await use('rotate_org_token', { token_id: minted.id, grace_seconds: 0 })).json as { id: string; auth_token: string; name: string };
      assert.equal((await selfOf(rotated.auth_token)).statusCode, 200);
      await use('revoke_org_token', { token_id: rotated.id, confirm_name: rotated.name ?? 'mcp-minted' });
      assert.equal((await selfOf(rotated.auth_token)).statusCode, 401);
      const wsToken = (await use('mint_workspace_token', { workspace_id: provisioned.id })).json as { id: string; prefix: string; auth_token: string };
      assert.deepEqual((await selfOf(wsToken.auth_token)).json().workspace_ids, [provisioned.id]);
      assert.ok(((await use('list_workspace_tokens', { workspace_id: provisioned.id })).json as { tokens: Array<{ id: string }> }).tokens.some((k) => k.id === wsToken.id));
      await use('revoke_workspace_token', { workspace_id: provisioned.id, token_id: wsToken.id, confirm_name: wsToken.prefix });
      assert.equal((await selfOf(wsToken.auth_token)).statusCode, 401);

      // templates and org import/export
      await use('import_template', { name: 'mcp-template', files: { 'a.md': 'x' } });
      assert.ok(((await use('list_templates')).json as Array<{ id: string }>).some((x) => x.id === 'mcp-template'));
      assert.ok(((await use('list_org_templates')).json as Array<{ dir: string }>).length > 0);
      const orgTemplate = { name: 'mcp-org', workspaces: [{ name: `mcp-org-a-${Date.now()}`, external: true }] };
      const countWorkspaces = async () => (await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() })).json().length as number;
      const before = await countWorkspaces();
      const plan = (await use('create_org_from_template', { template: orgTemplate, dry_run: true })).json as { dry_run: boolean; summary: { create: number } };
      assert.deepEqual([plan.dry_run, plan.summary.create], [true, 1]);
      assert.equal(await countWorkspaces(), before, 'a dry run creates nothing');
      await use('create_org_from_template', { template: orgTemplate });
      assert.equal(await countWorkspaces(), before + 1);
      assert.ok((await use('export_org')).text.includes(orgTemplate.workspaces[0]!.name));

      // bundles
      const bundle = (await use('export_bundle', { workspace_id: provisioned.id })).json as Record<string, unknown>;
      assert.equal(bundle['name'], provisioned.name);
      const imported = (await use('import_bundle', { bundle: { ...bundle, name: 'mcp-imported' } })).json;
      assert.ok(JSON.stringify(imported).length > 2);
      assert.ok(((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() })).json() as Array<{ name: string }>).some((w) => w.name === 'mcp-imported'));

      // approvals: a workspace's agent asks; the admin key lists, reads and decides
      const asked = await t.app.inject({ method: 'POST', url: `/workspaces/${provisioned.id}/approvals`, headers: t.as(provisioned.auth_token), payload: { action: 'mcp-test' } });
      assert.equal(asked.statusCode, 201, asked.body);
      const approvalId = (asked.json() as { approval_id: string }).approval_id;
      assert.ok(((await use('list_pending_approvals')).json as Array<{ id: string }>).some((a) => a.id === approvalId));
      assert.equal((await use('get_approval', { approval_id: approvalId })).json.status, 'pending');
      await use('decide_approval', { approval_id: approvalId, decision: 'approved' });
      assert.equal((await use('get_approval', { approval_id: approvalId })).json.status, 'approved');

      // audit
      const events = await waitFor('the provision in the audit trail', async () => {
        const a = await use('list_audit_events', { actor: `org-token:${adminKey.prefix}`, method: 'POST', limit: 1000 });
        const e = (a.json as { events: Array<{ route: string; status: number }> }).events;
        return e.some((x) => x.route === '/workspaces' && x.status === 201) ? e : undefined;
      });
      assert.ok(events.length > 0);
      assert.equal((await use('verify_audit')).json.ok, true);

      // plugins
      assert.ok(((await use('list_plugins')).json as Array<{ name: string }>).some((p) => p.name === 'hello-skill'));
      assert.equal((await use('install_plugin', { workspace_id: provisioned.id, source: 'local://hello-skill' })).json.plugin, 'hello-skill');
      assert.ok(JSON.stringify((await use('list_workspace_plugins', { workspace_id: provisioned.id })).json).includes('hello-skill'));
      await use('uninstall_plugin', { workspace_id: provisioned.id, name: 'hello-skill', confirm_name: 'hello-skill' });
      assert.ok(!JSON.stringify((await use('list_workspace_plugins', { workspace_id: provisioned.id })).json).includes('hello-skill'));

      // channels
      const channel = (await use('create_channel', { workspace_id: provisioned.id, type: 'webhook', config: { url: 'http://127.0.0.1:9/mcp', secret: 'mcp-signing-secret-01' }, events: ['MCP_TEST_ONLY'] })).json as { id: string };
      assert.ok(((await use('list_channels', { workspace_id: provisioned.id })).json as Array<{ id: string }>).some((c) => c.id === channel.id));
      await use('delete_channel', { workspace_id: provisioned.id, channel_id: channel.id, confirm_name: channel.id });
      assert.deepEqual((await use('list_channels', { workspace_id: provisioned.id })).json, []);

      // and last, the workspace goes
      await use('deprovision_workspace', { workspace_id: provisioned.id, confirm_name: provisioned.name });
      assert.equal(await workspaceStatus(provisioned.id), 'removed');

      assert.deepEqual([...called].sort(), TENANT_TOOLS, 'every tenant tool was called');
    });

    it('a destructive tool with the wrong confirm_name is refused and changes nothing', async () => {
      const ws = await t.createWorkspace({ external: true });
      const client = await http(t.adminToken);
      const wrong = await call(client, 'deprovision_workspace', { workspace_id: ws.id, confirm_name: `${ws.name}-not` });
      assert.equal(wrong.isError, true);
      assert.match(wrong.text, /deprovision_workspace refused: confirm_name must be exactly the name .*the workspace name.*nothing was done/);
      assert.ok(!wrong.text.includes(ws.name), 'the expected name is not echoed');
      assert.notEqual(await workspaceStatus(ws.id), 'removed');
      const missing = await call(client, 'deprovision_workspace', { workspace_id: ws.id });
      assert.equal(missing.isError, true);
      assert.match(missing.text, /confirm_name/);
      assert.notEqual(await workspaceStatus(ws.id), 'removed');
    });

    it('API errors are isError results with the server’s message, code and request id', async () => {
      const client = await http(t.adminToken);
      const missing = newUuid();
      const a = await call(client, 'get_workspace', { workspace_id: missing });
      assert.equal(a.isError, true);
      assert.match(a.text, /^workspace not found \(HTTP 404 WORKSPACE_NOT_FOUND, request_id req_[0-9A-Z]+\)$/);
      // A refusal past the tool filter is the server's, word for word (here: an approval that does not exist).
      const editor = await t.mintKey({ name: 'mcp-editor', role: 'editor', workspace_ids: [(await t.createWorkspace()).id] });
      const decided = await call(await http(editor.auth_token), 'decide_approval', { approval_id: 'apr_00000000000000000000000000', decision: 'approved' });
      assert.equal(decided.isError, true);
      assert.match(decided.text, /\(HTTP 404 APPROVAL_[A-Z_]+, request_id req_[0-9A-Z]+\)$/);
    });
  });

  describe('scoping follows the credential', () => {
    it('admin, editor and reader keys see the default toolsets their role allows; a reader only read-only tools', async () => {
      assert.deepEqual(await toolNames(await http(t.adminToken)), DEFAULT_ADMIN);
      assert.deepEqual(await toolNames(await http((await t.mintKey({ name: 'mcp-editor', role: 'editor' })).auth_token)), DEFAULT_EDITOR);
      const reader = await http((await t.mintKey({ name: 'mcp-reader', role: 'reader' })).auth_token, '?toolsets=all');
      const { tools } = await reader.listTools();
      assert.ok(tools.length > 5);
      for (const tool of tools) assert.equal(tool.annotations?.readOnlyHint, true, `${tool.name} offered to a reader`);
      assert.ok(!tools.some((x) => x.name === 'list_audit_events'), 'the audit trail is admin-only');
      assert.deepEqual(await toolNames(await http((await t.mintKey({ name: 'mcp-reader-2', role: 'reader' })).auth_token)), DEFAULT_READER);
    });

    it('a workspace-bound key gets no org-wide tools and is refused, without a call, on other workspaces', async () => {
      const [mine, other] = [await t.createWorkspace({ external: true }), await t.createWorkspace({ external: true })];
      const key = await t.mintKey({ name: 'mcp-bound', workspace_ids: [mine.id] });
      const client = await http(key.auth_token);
      assert.deepEqual(await toolNames(client), DEFAULT_BOUND);
      assert.deepEqual(((await ok(client, 'list_workspaces')).json as Array<{ id: string }>).map((w) => w.id), [mine.id]);
      assert.equal((await ok(client, 'get_workspace', { workspace_id: mine.id })).json.name, mine.name);
      const refused = await call(client, 'get_workspace', { workspace_id: other.id });
      assert.equal(refused.isError, true);
      assert.match(refused.text, new RegExp(`^workspace not found: ${other.id}`));
      const secret = await call(client, 'set_workspace_secret', { workspace_id: other.id, key: 'NOPE', value: 'x' });
      assert.equal(secret.isError, true);
      // The API never saw a request for the other workspace from this key (the refusal came first).
      const actor = `org-token:${key.prefix}`;
      const paths = await waitFor('the bound key’s allowed call in the audit trail', async () => {
        const res = await t.app.inject({ method: 'GET', url: `/audit?actor=${encodeURIComponent(actor)}&limit=100`, headers: t.admin() });
        const p = (res.json() as { events: Array<{ path: string }> }).events.map((e) => e.path);
        return p.includes(`/workspaces/${mine.id}`) ? p : undefined;
      });
      assert.ok(!paths.some((p) => p.includes(other.id)), paths.join(', '));
      const list = await t.app.inject({ method: 'GET', url: `/workspaces/${other.id}/secrets`, headers: t.admin() });
      assert.deepEqual(list.json(), []);
    });

    it('a workspace token sees only its own workspace’s tools and acts only on it', async () => {
      const [mine, other] = [await t.createWorkspace({ external: true }), await t.createWorkspace({ external: true })];
      const client = await http(mine.auth_token);
      assert.deepEqual(await toolNames(client), DEFAULT_WORKSPACE_TOKEN);
      assert.equal((await ok(client, 'whoami')).json.class, 'workspace-token');
      await ok(client, 'set_workspace_secret', { workspace_id: mine.id, key: 'OWN', value: 'v' });
      assert.deepEqual(((await ok(client, 'list_workspace_secrets', { workspace_id: mine.id })).json as Array<{ key: string }>).map((s) => s.key), ['OWN']);
      const refused = await call(client, 'get_workspace', { workspace_id: other.id });
      assert.equal(refused.isError, true);
      assert.match(refused.text, /^workspace not found/);
    });

    it('read_only and toolsets narrow the list further', async () => {
      assert.deepEqual(await toolNames(await http(t.adminToken, '?toolsets=secrets&read_only=true')), ['list_global_secrets', 'list_workspace_secrets', 'whoami']);
      assert.deepEqual(await toolNames(await http(t.adminToken, '?toolsets=audit')), ['list_audit_events', 'verify_audit', 'whoami']);
      const readOnly = await toolNames(await http(t.adminToken, '?read_only=true'));
      assert.deepEqual(readOnly, DEFAULT_ADMIN.filter((n) => ['whoami', 'list_workspaces', 'get_workspace', 'get_workspace_logs', 'list_workspace_secrets', 'list_global_secrets', 'list_pending_approvals', 'get_approval'].includes(n)));
    });

    it('an approval-required key gets the pending approval id instead of acting; a human decides', async () => {
      const ws = await t.createWorkspace({ external: true });
      const key = await t.mintKey({ name: 'mcp-gated', approval_required: true });
      const client = await http(key.auth_token);
      assert.deepEqual(await toolNames(client), DEFAULT_ADMIN.filter((n) => n !== 'decide_approval'), 'it can never decide, so it is not offered');
      const secret = await call(client, 'set_workspace_secret', { workspace_id: ws.id, key: 'GATED', value: 'v' });
      assert.equal(secret.isError, false, secret.text);
      const secretApproval = /^Pending approval (\S+):/.exec(secret.text)?.[1];
      assert.ok(secretApproval, secret.text);
      assert.deepEqual((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}/secrets`, headers: t.admin() })).json(), [], 'nothing was set');
      const removal = await call(client, 'deprovision_workspace', { workspace_id: ws.id, confirm_name: ws.name });
      const removalApproval = /^Pending approval (\S+):/.exec(removal.text)?.[1];
      assert.ok(removalApproval, removal.text);
      assert.notEqual(await workspaceStatus(ws.id), 'removed', 'nothing was removed');
      const pending = (await t.app.inject({ method: 'GET', url: '/approvals/pending', headers: t.admin() })).json() as Array<{ id: string; requested_by: string }>;
      for (const id of [secretApproval, removalApproval]) {
        assert.equal(pending.find((p) => p.id === id)?.requested_by, `org-token:${key.prefix}`);
      }
      // A human (here ADMIN_TOKEN, as the console or CLI would) approves; the identical call then goes through once.
      const decided = await t.app.inject({ method: 'POST', url: `/approvals/${secretApproval}/decide`, headers: t.admin(), payload: { decision: 'approved' } });
      assert.equal(decided.statusCode, 200, decided.body);
      const again = await call(client, 'set_workspace_secret', { workspace_id: ws.id, key: 'GATED', value: 'v' });
      assert.equal(again.isError, false, again.text);
      assert.ok(!again.text.startsWith('Pending approval'), again.text);
      assert.deepEqual(((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}/secrets`, headers: t.admin() })).json() as Array<{ key: string }>).map((x) => x.key), ['GATED']);
    });
  });

  describe('molecule mcp over stdio', () => {
    it('scopes by GET /auth/self and serves the same tools; calls act through the API', async () => {
      const key = await t.mintKey({ name: 'mcp-stdio-admin' });
      const client = await stdio(tenantEnv(key.auth_token));
      assert.deepEqual(await toolNames(client), DEFAULT_ADMIN);
      assert.equal((await ok(client, 'whoami')).json.credential_id, key.id);
      const made = (await ok(client, 'provision_workspace', { name: `mcp-stdio-${Date.now()}`, external: true })).json as { id: string; name: string };
      assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${made.id}`, headers: t.admin() })).json().name, made.name);
      const err = await call(client, 'get_workspace', { workspace_id: newUuid() });
      assert.equal(err.isError, true);
      assert.match(err.text, /^workspace not found \(HTTP 404 WORKSPACE_NOT_FOUND, request_id req_/);
    });

    it('MCP_READ_ONLY, MCP_TOOLSETS and the reader role narrow the list; a workspace token gets its own tools', async () => {
      const reader = await t.mintKey({ name: 'mcp-stdio-reader', role: 'reader' });
      assert.deepEqual(await toolNames(await stdio(tenantEnv(reader.auth_token))), DEFAULT_READER);
      assert.deepEqual(await toolNames(await stdio(tenantEnv(t.adminToken, { MCP_READ_ONLY: 'true', MCP_TOOLSETS: 'keys' }))), ['list_org_tokens', 'list_workspace_tokens', 'whoami']);
      const ws = await t.createWorkspace({ external: true });
      assert.deepEqual(await toolNames(await stdio(tenantEnv(ws.auth_token))), DEFAULT_WORKSPACE_TOKEN);
    });

    it('a refused credential stops the server before it serves, with the server’s message on stderr', async () => {
      const child = spawn(process.execPath, [CHILD], { env: { ...process.env, ...tenantEnv(mintCredential('orgKey').plaintext) }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 1);
      assert.match(stderr, /^molecule mcp: invalid admin auth token\n$/);
      assert.equal(stdout, '', 'stdout carries the protocol only');
    });
  });

  describe('control-plane tools over stdio', () => {
    let cp: TestControlPlane;
    before(async () => {
      cp = await startTestControlPlane(kind, { listen: true });
    });
    after(() => cp?.close());

    it('with a session: orgs, members and billing, each checked against the control plane', async () => {
      const owner = await cp.signup({ name: 'MCP Owner', verifyEmail: true });
      const session = owner.cookie.replace(/^mcp_session=/, '');
      const client = await stdio({ MOLECULE_CP_URL: cp.url, MOLECULE_SESSION: session, MCP_TOOLSETS: 'orgs,members,billing' });
      const names = await toolNames(client);
      assert.deepEqual(names, CATALOGUE.filter((x) => x.scope === 'cp').map((x) => x.name).sort(), 'every control-plane tool, and no tenant tool without a tenant');
      for (const tool of (await client.listTools()).tools) {
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) assert.equal(typeof tool.annotations?.[hint], 'boolean', `${tool.name} ${hint}`);
      }
      const slug = `mcp-${Date.now().toString(36)}`;
      const created = (await ok(client, 'create_org', { slug, name: 'MCP Org' })).json as { slug: string; id: string };
      assert.equal(created.slug, slug);
      assert.equal((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${slug}`, headers: cp.as(owner) })).statusCode, 200);
      assert.ok(((await ok(client, 'list_orgs')).json as Array<{ slug: string }>).some((o) => o.slug === slug));
      assert.equal((await ok(client, 'get_org', { slug })).json.id, created.id);
      assert.ok('status' in ((await ok(client, 'org_provision_status', { slug })).json as object));
      const members = (await ok(client, 'list_members', { slug })).json as { members: Array<{ user_id: string; role: string }> };
      assert.deepEqual(members.members.map((m) => [m.user_id, m.role]), [[owner.userId, 'owner']]);
      const invited = (await ok(client, 'invite_member', { slug, email: 'mcp-invitee@example.com', role: 'admin' })).json as { id: string };
      assert.ok(((await ok(client, 'list_invitations', { slug })).json as { invitations: Array<{ id: string }> }).invitations.some((i) => i.id === invited.id));
      const wrongConfirm = await call(client, 'revoke_invitation', { slug, invitation_id: invited.id, confirm_name: 'someone-else@example.com' });
      assert.equal(wrongConfirm.isError, true);
      await ok(client, 'revoke_invitation', { slug, invitation_id: invited.id, confirm_name: 'mcp-invitee@example.com' });
      assert.deepEqual(((await ok(client, 'list_invitations', { slug })).json as { invitations: unknown[] }).invitations, []);
      // A second member, brought in the way a client would, then promoted and removed through the tools.
      const bob = await cp.signup({ name: 'Bob', verifyEmail: true });
      const inv = await cp.app.inject({ method: 'POST', url: `/api/v1/orgs/${slug}/members/invitations`, headers: cp.as(owner), payload: { email: bob.email } });
      assert.equal(inv.statusCode, 201, inv.body);
      const accepted = await cp.app.inject({ method: 'POST', url: '/api/v1/invitations/accept', headers: cp.as(bob), payload: { token: inv.json().invite_token } });
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal((await ok(client, 'change_member_role', { slug, user_id: bob.userId, role: 'admin' })).json.role, 'admin');
      await ok(client, 'remove_member', { slug, user_id: bob.userId, confirm_name: bob.email });
      assert.deepEqual(((await ok(client, 'list_members', { slug })).json as { members: Array<{ user_id: string }> }).members.map((m) => m.user_id), [owner.userId]);
      assert.ok(Array.isArray((await ok(client, 'list_plans')).json));
      assert.ok(Array.isArray((await ok(client, 'list_invoices', { org_slug: slug })).json));
      assert.equal((await ok(client, 'get_org_usage', { slug })).json.slug, slug);
      const refusedDelete = await call(client, 'delete_org', { slug, confirm_name: 'not-it' });
      assert.equal(refusedDelete.isError, true);
      assert.equal((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${slug}`, headers: cp.as(owner) })).statusCode, 200);
      await ok(client, 'delete_org', { slug, confirm_name: slug });
      assert.equal((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${slug}`, headers: cp.as(owner) })).statusCode, 404);
      // Another user's org is not this session's: the control plane's 404 comes back as isError.
      const stranger = await cp.signup({ name: 'Stranger' });
      const theirs = await cp.createOrg(stranger);
      const hidden = await call(client, 'get_org', { slug: theirs.slug });
      assert.equal(hidden.isError, true);
      assert.match(hidden.text, /HTTP 404/);
    });

    it('with a partner key: its orgs, created and listed within its scopes', async () => {
      const minted = await cp.mintPartnerKey({ name: 'mcp partner', partner_id: `partner-mcp-${Date.now()}`, scopes: ['orgs:create', 'orgs:list'], org_id: null });
      const client = await stdio({ MOLECULE_CP_URL: cp.url, MOLECULE_PARTNER_KEY: minted.key, MCP_TOOLSETS: 'orgs' });
      const slug = `mcp-p-${Date.now().toString(36)}`;
      assert.equal((await ok(client, 'create_org', { slug, name: 'Partner org' })).json.slug, slug);
      assert.ok(((await ok(client, 'list_orgs')).json as Array<{ slug: string }>).some((o) => o.slug === slug));
      const outOfScope = await call(client, 'delete_org', { slug, confirm_name: slug });
      assert.equal(outOfScope.isError, true, 'orgs:delete is not among the key’s scopes');
    });
  });
});
