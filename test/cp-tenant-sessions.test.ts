/**
 * The two services together: a tenant's tier 1 (the `mcp_session` cookie) verified by the REAL control plane's
 * `GET /cp/auth/tenant-member?org_id=` over loopback HTTP — the wire contract between them, with no stand-in.
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
    tenant = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: org.id, MOLECULE_ORG_SLUG: org.slug } });
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

  it('a member who joins is accepted; the CP is asked with the browser’s session and the tenant’s org id', async () => {
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

  it('a recycled slug does not take over the old tenant: tombstoned at the CP, and refused by org id at the tenant', async () => {
    const alice = await cp.signup();
    const mallory = await cp.signup();
    const acme = await cp.createOrg(alice);
    const old = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: acme.id, MOLECULE_ORG_SLUG: acme.slug } });
    let reborn: TestTenant | undefined;
    try {
      const at = (t: TestTenant, user: TestUser, method: 'GET' | 'POST' = 'GET') =>
        t.app.inject({ method, url: '/org/tokens', headers: { 'x-molecule-org-id': t.orgId, cookie: user.cookie }, ...(method === 'POST' ? { payload: { name: 'takeover' } } : {}) });
      assert.equal((await at(old, alice)).statusCode, 200, 'control: Alice administers her tenant with her session');

      const del = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${acme.slug}`, headers: cp.as(alice) });
      assert.equal(del.statusCode, 204, del.body);

      // 1. The slug is not free for the tombstone period.
      const squat = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(mallory), payload: { slug: acme.slug, name: 'Not Acme' } });
      assert.equal(squat.statusCode, 409, squat.body);
      assert.equal(squat.json().reason, 'recently_deleted');

      // 2. Even once it is free again, the new org is another org: its members are not the old tenant's.
      await cp.db.updateTable('org_purges').set({ purged_at: new Date(Date.now() - 31 * 86_400_000) }).where('org_id', '=', acme.id).execute();
      const taken = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(mallory), payload: { slug: acme.slug, name: 'Not Acme' } });
      assert.equal(taken.statusCode, 201, taken.body);
      assert.notEqual(taken.json().id, acme.id);
      const keysBefore = (await old.app.inject({ method: 'GET', url: '/org/tokens', headers: old.admin() })).json().count as number;
      for (const method of ['GET', 'POST'] as const) {
        const res = await at(old, mallory, method);
        assert.equal(res.statusCode, 401, `${method}: ${res.body}`);
        assert.equal(res.json().error, 'admin auth required');
      }
      assert.equal((await old.app.inject({ method: 'GET', url: '/org/tokens', headers: old.admin() })).json().count, keysBefore, 'no admin key was minted');

      // Control: Mallory's session is a good one — for her own org's tenant.
      reborn = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: taken.json().id, MOLECULE_ORG_SLUG: acme.slug } });
      assert.equal((await at(reborn, mallory, 'POST')).statusCode, 200);
    } finally {
      await reborn?.close();
      await old.close();
    }
  });
});
