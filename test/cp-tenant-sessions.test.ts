/**
 * The two services together: a tenant's tier 1 (the `mcp_session` cookie) verified by the REAL control plane's
 * `GET /cp/auth/tenant-member?slug=` over loopback HTTP — the wire contract between them, with no stand-in.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';

forEachDatabase('tenant sessions verified by the real control plane', (kind) => {
  let cp: TestControlPlane;
  let tenant: TestTenant;
  let owner: TestUser;
  let stranger: TestUser;
  let org: TestOrg;

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
    owner = await cp.signup();
    stranger = await cp.signup();
    org = await cp.createOrg(owner);
    // A member of another org: signed in, but not this org's.
    await cp.createOrg(stranger);
    tenant = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_SLUG: org.slug } });
  });
  after(async () => {
    await tenant.close();
    await cp.close();
  });

  const atTenant = (cookie: string | undefined, method: 'GET' | 'POST' = 'GET', url = '/org/tokens', payload?: object) =>
    tenant.app.inject({
      method,
      url,
      headers: { 'x-molecule-org-id': tenant.orgId, ...(cookie ? { cookie } : {}) },
      ...(payload ? { payload } : {}),
    });

  it('an org member’s CP session is a tenant admin session, attributed to the user', async () => {
    const list = await atTenant(owner.cookie);
    assert.equal(list.statusCode, 200, list.body);
    const minted = await atTenant(owner.cookie, 'POST', '/org/tokens', { name: 'from the console' });
    assert.equal(minted.statusCode, 200, minted.body);
    assert.equal(minted.json().created_by, `session:${owner.userId}`);
    const audit = await tenant.app.inject({ method: 'GET', url: `/audit?actor=session:${owner.userId}`, headers: tenant.admin() });
    assert.ok(audit.json().events.some((e: { method: string; path: string }) => e.method === 'POST' && e.path === '/org/tokens'));
  });

  it('a signed-in non-member, a garbage cookie and no cookie are refused by the tenant', async () => {
    for (const cookie of [stranger.cookie, 'mcp_session=mols_not-a-real-session', undefined]) {
      const res = await atTenant(cookie);
      assert.equal(res.statusCode, 401, String(cookie));
      assert.equal(res.json().error, 'admin auth required');
    }
  });

  it('a member who joins is accepted; the CP is asked with the browser’s cookie and the tenant’s slug', async () => {
    const joiner = await cp.signup();
    const invite = await cp.app.inject({ method: 'POST', url: `/api/v1/orgs/${org.slug}/members/invitations`, headers: cp.as(owner), payload: { role: 'member' } });
    assert.equal(invite.statusCode, 201, invite.body);
    const accept = await cp.app.inject({ method: 'POST', url: '/api/v1/invitations/accept', headers: cp.as(joiner), payload: { token: invite.json().invite_token } });
    assert.equal(accept.statusCode, 200, accept.body);
    const res = await atTenant(joiner.cookie);
    assert.equal(res.statusCode, 200, res.body);
    // The CP's own audit trail shows the tenant's check, attributed to the joiner's session.
    const cpAudit = await cp.app.inject({ method: 'GET', url: `/api/v1/admin/audit?actor=session:${joiner.userId}&path=/cp/auth/tenant-member`, headers: cp.admin() });
    assert.ok(cpAudit.json().events.length >= 1);
  });

  it('an org key never works at the control plane, and a CP session alone never reaches another tenant', async () => {
    const key = await tenant.mintKey({ name: 'boundary' });
    const res = await fetch(`${cp.url}/api/v1/orgs`, { headers: { authorization: `Bearer ${key.auth_token}` } });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'TENANT_CREDENTIAL_REJECTED');
    const other = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_SLUG: 'other-org-slug' } });
    try {
      const denied = await other.app.inject({ method: 'GET', url: '/org/tokens', headers: { 'x-molecule-org-id': other.orgId, cookie: owner.cookie } });
      assert.equal(denied.statusCode, 401);
    } finally {
      await other.close();
    }
  });
});
