/** `molecule token …` (a workspace's tokens) end to end: the real binary against a real tenant on loopback. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { runCli } from './support/cli.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

forEachDatabase('CLI token', (kind) => {
  let t: TestTenant;
  let env: Record<string, string>;
  let workspaceId: string;

  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { WORKSPACE_PROVISIONER: 'none' } });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: (await t.mintKey({ name: 'cli-admin' })).auth_token };
    workspaceId = (await t.createWorkspace({ name: 'bound' })).id;
  });
  after(async () => {
    await t.close();
  });

  it('token create/list/revoke for a workspace by name; the token authenticates as the workspace until revoked', async () => {
    const created = await runCli(['token', 'create', 'bound', '--json'], { env });
    assert.equal(created.code, 0, created.stderr);
    const tok = created.json<{ id: string; prefix: string; auth_token: string; workspace_id: string; message: string }>();
    assert.deepEqual(Object.keys(tok).sort(), ['auth_token', 'id', 'message', 'prefix', 'workspace_id']);
    assert.equal(tok.workspace_id, workspaceId);
    const asWorkspace = await t.app.inject({ method: 'GET', url: `/workspaces/${workspaceId}/secrets`, headers: t.as(tok.auth_token) });
    assert.equal(asWorkspace.statusCode, 200, asWorkspace.body);

    const human = await runCli(['token', 'create', workspaceId], { env });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /export MOLECULE_WORKSPACE_TOKEN=molw_/);

    const list = await runCli(['token', 'list', 'bound', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    const rows = list.json<Array<{ id: string; prefix: string; kind: string }>>();
    assert.deepEqual(Object.keys(rows[0]!).sort(), ['created_at', 'created_by', 'id', 'kind', 'last_used_at', 'prefix']);
    assert.ok(rows.some((r) => r.id === tok.id));
    assert.doesNotMatch(list.stdout, /molw_[A-Za-z0-9]{20,}/);

    assert.equal((await runCli(['token', 'revoke', 'bound', tok.id], { env })).code, 3);
    const revoked = await runCli(['token', 'revoke', 'bound', tok.id, '--yes', '--json'], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.json<{ id: string }>().id, tok.id);
    const after = await t.app.inject({ method: 'GET', url: `/workspaces/${workspaceId}/secrets`, headers: t.as(tok.auth_token) });
    assert.equal(after.statusCode, 401);
    const again = await runCli(['token', 'revoke', 'bound', tok.id, '--yes'], { env });
    assert.equal(again.code, 6, again.stderr);
    const unknown = await runCli(['token', 'list', '00000000-0000-4000-8000-000000000000'], { env });
    assert.equal(unknown.code, 6);
  });

  it('failures: a reader key creating → 5, no credential → 4, a missing argument → 3', async () => {
    const reader = (await t.mintKey({ name: 'r', role: 'reader' })).auth_token;
    const forbidden = await runCli(['token', 'create', 'bound'], { env: { ...env, MOLECULE_API_KEY: reader } });
    assert.equal(forbidden.code, 5, forbidden.stderr);
    assert.match(forbidden.stderr, /\[403 [A-Z_]+\] \(request [^)]+\)/);
    assert.equal((await runCli(['token', 'list', 'bound'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId } })).code, 4);
    assert.equal((await runCli(['token', 'revoke', 'bound'], { env })).code, 3);
  });
});
