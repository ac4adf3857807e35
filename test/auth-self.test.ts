/**
 * GET /auth/self (issue 13 item 3): every credential class the tenant accepts, each described as itself, and the
 * security suite's refusals (no credential, wrong, revoked, expired, another org's key, missing or wrong org header).
 * It sits outside the tiers (test/security.test.ts counts it as self-authenticated), so its checks live here.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { FakeControlPlane } from './support/fake-control-plane.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

forEachDatabase('GET /auth/self', (kind) => {
  let t: TestTenant;
  const cp = new FakeControlPlane();
  before(async () => {
    await cp.start();
    t = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url } });
  });
  after(async () => {
    await t.close();
    await cp.stop();
  });

  const self = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/auth/self', headers });

  it('an org key: its class, role, binding, expiry, id, prefix, name and approval flag — never the key', async () => {
    const ws = await t.createWorkspace();
    const expires = new Date(Date.now() + 3600_000).toISOString();
    const key = await t.mintKey({ name: 'self-reader', role: 'reader', workspace_ids: [ws.id], expires_at: expires, approval_required: true });
    const res = await self(t.as(key.auth_token));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      class: 'org-token',
      role: 'reader',
      workspace_ids: [ws.id],
      expires_at: key.expires_at,
      credential_id: key.id,
      prefix: key.prefix,
      name: 'self-reader',
      approval_required: true,
      org_id: t.orgId,
      actor: `org-token:${key.prefix}`,
    });
    assert.ok(!res.body.includes(key.auth_token));
    const unbound = await t.mintKey({ name: 'self-admin' });
    assert.deepEqual(
      (({ role, workspace_ids, expires_at, approval_required }) => ({ role, workspace_ids, expires_at, approval_required }))((await self(t.as(unbound.auth_token))).json()),
      { role: 'admin', workspace_ids: null, expires_at: null, approval_required: false },
    );
  });

  it('a workspace token is its own workspace’s editor; ADMIN_TOKEN is the admin token; a member session is a session', async () => {
    const ws = await t.createWorkspace();
    const tokenRes = await self(t.as(ws.auth_token));
    assert.equal(tokenRes.statusCode, 200, tokenRes.body);
    const body = tokenRes.json() as Record<string, unknown>;
    assert.deepEqual({ ...body, credential_id: undefined, prefix: undefined }, {
      class: 'workspace-token', role: 'editor', workspace_ids: [ws.id], expires_at: null, credential_id: undefined, prefix: undefined,
      name: null, approval_required: false, org_id: t.orgId, actor: `workspace-token:${String(body['prefix'])}`,
    });
    assert.equal(body['credential_id'], ws.token_id);
    assert.ok(ws.auth_token.startsWith(String(body['prefix'])));

    const admin = await self(t.admin());
    assert.equal(admin.statusCode, 200, admin.body);
    assert.deepEqual(admin.json(), { class: 'admin-token', role: 'admin', workspace_ids: null, expires_at: null, credential_id: null, prefix: null, name: null, approval_required: false, org_id: t.orgId, actor: 'admin-token' });

    const session = mintCredential('session').plaintext;
    cp.members.set(session, { user_id: 'user_self_member', role: 'member', org_id: t.orgId });
    const member = await self({ 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${session}` });
    assert.equal(member.statusCode, 200, member.body);
    assert.deepEqual(member.json(), { class: 'session', role: 'admin', workspace_ids: null, expires_at: null, credential_id: null, prefix: null, name: null, approval_required: false, org_id: t.orgId, actor: 'session:user_self_member' });
  });

  it('no credential → 401 ADMIN_AUTH_REQUIRED; unknown, revoked, expired or another org’s key → 401 INVALID_ADMIN_AUTH', async () => {
    const none = await self({ 'x-molecule-org-id': t.orgId });
    assert.equal(none.statusCode, 401);
    assert.deepEqual({ ...(none.json() as object), request_id: undefined }, { error: 'admin auth required', code: 'ADMIN_AUTH_REQUIRED', request_id: undefined });

    const revoked = await t.mintKey({ name: 'self-revoked' });
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/org/tokens/${revoked.id}`, headers: t.admin() })).statusCode, 200);
    const expired = await t.mintKey({ name: 'self-expired', expires_at: new Date(Date.now() + 2000).toISOString() });
    await t.db.updateTable('org_api_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute();
    const foreign = await t.mintKey({ name: 'self-foreign' });
    await t.db.updateTable('org_api_tokens').set({ org_id: newUuid() }).where('id', '=', foreign.id).execute();
    const ws = await t.createWorkspace();
    await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: { ...t.admin(), 'x-confirm-name': ws.name } });

    for (const [label, bearer] of [
      ['unknown', mintCredential('orgKey').plaintext],
      ['revoked', revoked.auth_token],
      ['expired', expired.auth_token],
      ['another org', foreign.auth_token],
      ['removed workspace token', ws.auth_token],
      ['garbage', 'not-a-credential'],
    ] as const) {
      const res = await self(t.as(bearer));
      assert.equal(res.statusCode, 401, `${label}: ${res.body}`);
      assert.equal(res.json().code, 'INVALID_ADMIN_AUTH', label);
      assert.equal(res.json().error, 'invalid admin auth token', label);
    }
  });

  it('TenantGuard: no org header → 400 TENANT_ORG_HEADER_REQUIRED; another org’s id → 404 with an empty body', async () => {
    const missing = await t.app.inject({ method: 'GET', url: '/auth/self', headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().code, 'TENANT_ORG_HEADER_REQUIRED');
    const wrong = await t.app.inject({ method: 'GET', url: '/auth/self', headers: { authorization: `Bearer ${t.adminToken}`, 'x-molecule-org-id': newUuid() } });
    assert.equal(wrong.statusCode, 404);
    assert.equal(wrong.body, '');
  });

  it('each call is in the audit trail under the caller', async () => {
    const key = await t.mintKey({ name: 'self-audited' });
    assert.equal((await self(t.as(key.auth_token))).statusCode, 200);
    // Reads are written behind in batches: wait for the writer, not a fixed time.
    const events = await waitFor('the audit event of GET /auth/self', async () => {
      const audit = await t.app.inject({ method: 'GET', url: `/audit?actor=${encodeURIComponent(`org-token:${key.prefix}`)}`, headers: t.admin() });
      assert.equal(audit.statusCode, 200, audit.body);
      const found = audit.json().events as Array<{ route: string; status: number }>;
      return found.length > 0 ? found : undefined;
    });
    assert.deepEqual(events.map((e) => [e.route, e.status]), [['/auth/self', 200]]);
  });
});
