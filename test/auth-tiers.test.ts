import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { createLogger } from '../src/core/logger.js';
import { SessionVerifier } from '../src/tenant/auth/session-verifier.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { FakeControlPlane } from './support/fake-control-plane.js';

/** A well-formed (checksummed) session value, as the control plane mints them. */
const newSession = () => mintCredential('session').plaintext;

/** Resolves once `probe` holds, polling; fails with `what` after a generous deadline (the machine may be loaded). */
async function until(what: string, probe: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('session verifier against a real HTTP control plane', () => {
  const cp = new FakeControlPlane();
  const log = createLogger({ name: 'test', level: 'silent' });
  const ORG = newUuid();
  let now = 1_000_000;
  before(() => cp.start());
  after(() => cp.stop());

  const verifier = (extra: Partial<ConstructorParameters<typeof SessionVerifier>[0]> = {}) =>
    new SessionVerifier({ cpUpstreamUrl: cp.url, orgId: ORG, log, now: () => now, ...extra });

  it('asks by org id and accepts only 200 + member:true + a user_id + this org’s id; only the session cookie is forwarded', async () => {
    const good = newSession();
    cp.members.set(good, { user_id: 'user_1', role: 'owner', org_id: ORG });
    const v = verifier({ cpUpstreamUrl: cp.url + '/' });
    assert.deepEqual(await v.verify(`theme=dark; mcp_session=${good}; other=1`), { userId: 'user_1', role: 'owner' });
    const call = cp.calls.at(-1)!;
    assert.equal(call.orgId, ORG);
    assert.equal(call.slug, null, 'asked by org id, not by the recyclable slug');
    assert.equal(call.cookie, `mcp_session=${good}`, 'unrelated cookies never leave for the CP');
    assert.match(call.userAgent ?? '', /molecule-tenant/);
    assert.equal(await v.verify(`mcp_session=${newSession()}`), null, 'a well-formed session the CP does not know');
  });

  it('refuses a yes about another org, and a yes that names no org', async () => {
    const s = newSession();
    cp.members.set(s, { user_id: 'user_w', role: 'owner', org_id: ORG });
    try {
      cp.mode = 'wrong-org';
      assert.equal(await verifier().verify(`mcp_session=${s}`), null);
      cp.mode = 'no-org-id';
      assert.equal(await verifier().verify(`mcp_session=${s}`), null);
    } finally {
      cp.mode = 'normal';
    }
    assert.ok(await verifier().verify(`mcp_session=${s}`), 'control: the same session with a correct answer');
  });

  it('rejects a malformed session offline: no call to the CP', async () => {
    const good = mintCredential('session').plaintext;
    const mistyped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A'); // checksum no longer matches
    const v = verifier();
    const start = cp.calls.length;
    for (const cookie of ['mcp_session=garbage', 'mcp_session=mols_not-a-real-session', `mcp_session=${mistyped}`, `mcp_session=${mintCredential('orgKey').plaintext}`, 'mcp_session=', 'other=1']) {
      assert.equal(await v.verify(cookie), null, cookie);
    }
    assert.equal(cp.calls.length - start, 0, 'no malformed value reached the CP');
  });

  it('caches yes for 30 s and no for 5 s, keyed on the session (not the whole Cookie header)', async () => {
    const s = newSession();
    cp.members.set(s, { user_id: 'user_2', role: 'member', org_id: ORG });
    const v = verifier();
    const start = cp.calls.length;
    await v.verify(`mcp_session=${s}`);
    await v.verify(`a=1; mcp_session=${s}`);
    await v.verify(`mcp_session=${s}; b=${Date.now()}`);
    assert.equal(cp.calls.length - start, 1, 'other cookies do not make a new cache entry');
    cp.members.delete(s);
    now += 29_000;
    assert.ok(await v.verify(`mcp_session=${s}`), 'still cached at 29 s');
    now += 2_000;
    assert.equal(await v.verify(`mcp_session=${s}`), null, 'expired at 31 s, re-asked, no longer a member');
    const afterNo = cp.calls.length;
    cp.members.set(s, { user_id: 'user_2', role: 'member', org_id: ORG });
    assert.equal(await v.verify(`mcp_session=${s}`), null, 'negative answer cached');
    now += 5_001;
    assert.ok(await v.verify(`mcp_session=${s}`), 'negative cache expired after 5 s');
    assert.equal(cp.calls.length - afterNo, 1);
  });

  it('single-flights concurrent lookups of one session: N requests, 1 CP call, the same answer for all', async () => {
    const s = newSession();
    cp.members.set(s, { user_id: 'user_sf', role: 'member', org_id: ORG });
    const v = verifier();
    const start = cp.calls.length;
    cp.mode = 'slow';
    try {
      const answers = Array.from({ length: 25 }, (_, i) => v.verify(`n=${i}; mcp_session=${s}`));
      await until('the first lookup to reach the CP', () => cp.calls.length > start);
      cp.release();
      for (const a of await Promise.all(answers)) assert.deepEqual(a, { userId: 'user_sf', role: 'member' });
    } finally {
      cp.mode = 'normal';
      cp.release();
    }
    assert.equal(cp.calls.length - start, 1);
    // A different session is its own flight.
    const other = newSession();
    await Promise.all([v.verify(`mcp_session=${other}`), v.verify(`mcp_session=${other}`)]);
    assert.equal(cp.calls.length - start, 2);
  });

  it('does not cache transport errors or timeouts, and a 500 is a "no"', async () => {
    const s = newSession();
    cp.members.set(s, { user_id: 'user_3', role: 'member', org_id: ORG });
    const v = verifier({ timeoutMs: 200 });
    cp.mode = 'hang';
    assert.equal(await v.verify(`mcp_session=${s}`), null);
    cp.mode = 'normal';
    assert.ok(await v.verify(`mcp_session=${s}`), 'the timeout was not cached');
    const down = new SessionVerifier({ cpUpstreamUrl: 'http://127.0.0.1:1', orgId: ORG, log, now: () => now });
    assert.equal(await down.verify(`mcp_session=${s}`), null);
    cp.mode = 'error500';
    assert.equal(await verifier().verify(`mcp_session=${s}`), null);
    cp.mode = 'normal';
  });

  it('partitions the cache by org id', async () => {
    const s = newSession();
    const orgB = newUuid();
    cp.members.set(s, { user_id: 'user_4', role: 'member', org_id: ORG });
    const a = verifier();
    assert.ok(await a.verify(`mcp_session=${s}`));
    const before = cp.calls.length;
    const b = verifier({ orgId: orgB });
    assert.equal(await b.verify(`mcp_session=${s}`), null, 'a member of one org is not a member of another');
    assert.equal(cp.calls.length - before, 1);
    assert.equal(cp.calls.at(-1)!.orgId, orgB);
  });
});

forEachDatabase('tier 1: control-plane sessions on the tenant', (kind) => {
  const cp = new FakeControlPlane();
  const alice = newSession();
  let t: TestTenant;
  before(async () => {
    await cp.start();
    t = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url } });
    cp.members.set(alice, { user_id: 'user_alice', role: 'owner', org_id: t.orgId });
  });
  after(async () => {
    await t.close();
    await cp.stop();
  });

  const asAlice = (extra: Record<string, string> = {}) => ({ 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${alice}`, ...extra });

  it('a member’s cookie opens admin routes and attributes mints to session:<user_id>', async () => {
    const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: asAlice() });
    assert.equal(list.statusCode, 200);
    const mint = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: asAlice(), payload: { name: 'from-session' } });
    assert.equal(mint.statusCode, 200);
    assert.equal(mint.json().created_by, 'session:user_alice');
    assert.equal(cp.calls.at(-1)!.orgId, t.orgId);
  });

  it('a non-member cookie falls through: 401 without a bearer, the bearer decides with one', async () => {
    const headers = { 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${newSession()}` };
    const res = await t.app.inject({ method: 'GET', url: '/workspaces', headers });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error, 'admin auth required');
    const withBearer = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { ...t.admin(), cookie: headers.cookie } });
    assert.equal(withBearer.statusCode, 200);
  });

  it('a malformed session cookie is refused without asking the CP', async () => {
    const start = cp.calls.length;
    for (const cookie of ['mcp_session=mallory', `mcp_session=${alice.slice(0, -1)}`, 'mcp_session=mols_AAAA']) {
      const res = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { 'x-molecule-org-id': t.orgId, cookie } });
      assert.equal(res.statusCode, 401, cookie);
      assert.equal(res.json().code, 'ADMIN_AUTH_REQUIRED');
    }
    assert.equal(cp.calls.length, start);
  });

  it('concurrent requests with one new session cost one CP call', async () => {
    const bob = newSession();
    cp.members.set(bob, { user_id: 'user_bob', role: 'member', org_id: t.orgId });
    const start = cp.calls.length;
    cp.mode = 'slow';
    try {
      const replies = Array.from({ length: 12 }, () =>
        t.app.inject({ method: 'GET', url: '/workspaces', headers: { 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${bob}` } }),
      );
      await until('the first lookup to reach the CP', () => cp.calls.length > start);
      cp.release();
      for (const r of await Promise.all(replies)) assert.equal(r.statusCode, 200, r.body);
    } finally {
      cp.mode = 'normal';
      cp.release();
    }
    assert.equal(cp.calls.length - start, 1);
  });

  it('a session opens workspace routes too', async () => {
    const ws = await t.createWorkspace();
    const res = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: asAlice() });
    assert.equal(res.statusCode, 200);
  });

  it('cookie-authenticated writes need no Origin or the tenant’s own; a foreign Origin is 403 and changes nothing', async () => {
    const count = async () => (await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() })).json().count as number;
    const before = await count();
    for (const origin of ['https://evil.example', 'null', 'http://localhost.evil.example', 'not a url']) {
      const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: asAlice({ origin }), payload: { name: 'csrf' } });
      assert.equal(res.statusCode, 403, `${origin}: ${res.body}`);
      assert.equal(res.json().code, 'ORIGIN_FORBIDDEN');
      assert.match(res.json().error, /cross-site request refused/);
    }
    const ws = await t.createWorkspace();
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: asAlice({ origin: 'https://evil.example' }) });
    assert.equal(del.statusCode, 403, 'the workspace tier checks it too');
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 200, 'not deleted');
    assert.equal(await count(), before, 'nothing minted');
    // Safe methods are not writes; no Origin (curl, SDKs) and the tenant's own host (either scheme) pass.
    assert.equal((await t.app.inject({ method: 'GET', url: '/org/tokens', headers: asAlice({ origin: 'https://evil.example' }) })).statusCode, 200);
    for (const origin of [undefined, 'http://tenant.test:8080', 'https://tenant.test:8080']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/org/tokens',
        headers: asAlice({ host: 'tenant.test:8080', ...(origin ? { origin } : {}) }),
        payload: { name: 'same-origin' },
      });
      assert.equal(res.statusCode, 200, `${origin}: ${res.body}`);
    }
    // Another port on the same host is another origin.
    const port = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: asAlice({ host: 'tenant.test:8080', origin: 'http://tenant.test:9999' }), payload: {} });
    assert.equal(port.statusCode, 403);
    // A bearer is not a browser credential: the Origin rule is for cookies only.
    const key = await t.mintKey({ name: 'bearer' });
    const bearer = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: { ...t.as(key.auth_token), origin: 'https://evil.example' }, payload: {} });
    assert.equal(bearer.statusCode, 200, bearer.body);
  });
});

forEachDatabase('tier 1: the tenant’s own origins with TENANT_DOMAIN and CP_PUBLIC_URL', (kind) => {
  const cp = new FakeControlPlane();
  const alice = newSession();
  let t: TestTenant;
  before(async () => {
    await cp.start();
    t = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, TENANT_DOMAIN: 'tenants.example', CP_PUBLIC_URL: 'https://app.example' } });
    cp.members.set(alice, { user_id: 'user_alice', role: 'owner', org_id: t.orgId });
  });
  after(async () => {
    await t.close();
    await cp.stop();
  });

  it('accepts <slug>.<TENANT_DOMAIN> and the CP’s public origin; refuses sibling tenants and look-alikes', async () => {
    const post = (origin: string) =>
      t.app.inject({ method: 'POST', url: '/org/tokens', headers: { 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${alice}`, origin, host: '127.0.0.1:1' }, payload: {} });
    for (const origin of [`https://${t.orgSlug}.tenants.example`, `http://${t.orgSlug}.tenants.example:8080`, 'https://app.example']) {
      const res = await post(origin);
      assert.equal(res.statusCode, 200, `${origin}: ${res.body}`);
    }
    for (const origin of ['https://other-org.tenants.example', `https://${t.orgSlug}.tenants.example.evil.example`, 'https://tenants.example', 'http://app.example', 'https://app.example:8443']) {
      const res = await post(origin);
      assert.equal(res.statusCode, 403, `${origin}: ${res.body}`);
      assert.equal(res.json().code, 'ORIGIN_FORBIDDEN');
    }
  });
});

forEachDatabase('tier 2a: an org key belongs to this tenant’s org', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  const setOrg = (id: string, orgId: string | null) => t.db.updateTable('org_api_tokens').set({ org_id: orgId }).where('id', '=', id).execute();
  /** An error body without its request id, to compare two refusals as the client sees them. */
  const refusal = (res: { statusCode: number; json(): Record<string, unknown> }) => {
    const { request_id: _ignored, ...rest } = res.json();
    return { status: res.statusCode, ...rest };
  };

  it('a key whose row names another org is refused exactly like an unknown key, on admin and workspace routes', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey({ name: 'moved' });
    const minted = await t.db.selectFrom('org_api_tokens').select('org_id').where('id', '=', key.id).executeTakeFirstOrThrow();
    assert.equal(minted.org_id, t.orgId, 'a key minted here is anchored to this org');
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) })).statusCode, 200, 'control');

    await setOrg(key.id, newUuid());
    const unknown = mintCredential('orgKey').plaintext;
    for (const url of ['/workspaces', '/org/tokens', `/workspaces/${ws.id}`, `/workspaces/${ws.id}/secrets`]) {
      const foreign = await t.app.inject({ method: 'GET', url, headers: t.as(key.auth_token) });
      const never = await t.app.inject({ method: 'GET', url, headers: t.as(unknown) });
      assert.equal(foreign.statusCode, 401, `${url}: ${foreign.body}`);
      assert.deepEqual(refusal(foreign), refusal(never), url);
    }
    const write = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(key.auth_token), payload: { name: 'escalate' } });
    assert.equal(write.statusCode, 401);
    assert.equal(write.json().error, 'invalid admin auth token');

    // Back in this org, the same key works again: the refusal was the org check, nothing else.
    await setOrg(key.id, t.orgId);
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) })).statusCode, 200);
  });

  it('an unanchored key (org_id NULL: minted while no MOLECULE_ORG_ID was set) is this tenant’s, and acts for its org', async () => {
    const key = await t.mintKey({ name: 'legacy' });
    await setOrg(key.id, null);
    const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(key.auth_token), payload: { name: 'child' } });
    assert.equal(res.statusCode, 200, res.body);
    const child = await t.db.selectFrom('org_api_tokens').select('org_id').where('id', '=', res.json().id).executeTakeFirstOrThrow();
    assert.equal(child.org_id, t.orgId, 'what it mints is anchored to the configured org');
  });
});

forEachDatabase('tier 0 and tier 3 without ADMIN_TOKEN', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { withoutAdminToken: true });
  });
  after(() => t.close());

  it('lazy bootstrap: open until the first org key exists, then closed for good', async () => {
    const routing = { 'x-molecule-org-id': t.orgId };
    const open = await t.app.inject({ method: 'GET', url: '/workspaces', headers: routing });
    assert.equal(open.statusCode, 200);
    const ws = await t.app.inject({ method: 'POST', url: '/workspaces', headers: routing, payload: { name: 'boot-ws' } });
    assert.equal(ws.statusCode, 201);
    const mint = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: routing, payload: { name: 'first' } });
    assert.equal(mint.statusCode, 200);
    assert.equal(mint.json().created_by, 'bootstrap');
    const closed = await t.app.inject({ method: 'GET', url: '/workspaces', headers: routing });
    assert.equal(closed.statusCode, 401);
    assert.equal(closed.json().error, 'admin auth required');
    // Revoking every key does not reopen it.
    await t.app.inject({ method: 'DELETE', url: `/org/tokens/${mint.json().id}`, headers: t.as(mint.json().auth_token) });
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: routing })).statusCode, 401);
    // Tier 3 (deprecated): without ADMIN_TOKEN a workspace token is accepted on admin routes, with a Deprecation header.
    const tier3 = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(ws.json().auth_token) });
    assert.equal(tier3.statusCode, 200);
    assert.equal(tier3.headers['deprecation'], 'true');
    const wsToken: string = ws.json().auth_token;
    const actor = `workspace-token:${wsToken.slice(0, 13)}`;
    const audit = await t.app.inject({ method: 'GET', url: `/audit?actor=${encodeURIComponent(actor)}&path=/workspaces`, headers: t.as(wsToken) });
    assert.equal(audit.statusCode, 200);
    assert.equal(audit.json().events[0].actor, actor, 'tier-3 calls are attributed to the workspace token');
  });
});

forEachDatabase('TenantGuard', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  it('allowlisted paths pass without a header; the allowlist is exact', async () => {
    assert.deepEqual((await t.app.inject({ method: 'GET', url: '/health' })).json(), { status: 'ok' });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /http_requests_total/);
    const debug = await t.app.inject({ method: 'GET', url: '/health/debug' });
    assert.equal(debug.statusCode, 400);
    assert.equal(debug.json().code, 'TENANT_ORG_HEADER_REQUIRED');
  });

  it('missing header 400 with the reference body; wrong id or slug 404 with an empty body; right slug passes', async () => {
    const missing = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error, 'missing tenant routing header');
    assert.equal(missing.json().code, 'TENANT_ORG_HEADER_REQUIRED');
    assert.equal(missing.json().required_header, 'X-Molecule-Org-Id');
    const wrong = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { ...t.admin(), 'x-molecule-org-id': '00000000-0000-4000-8000-000000000000' } });
    assert.equal(wrong.statusCode, 404);
    assert.equal(wrong.body, '');
    const wrongSlug = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { authorization: `Bearer ${t.adminToken}`, 'x-molecule-org-slug': 'other-org' } });
    assert.equal(wrongSlug.statusCode, 404);
    assert.equal(wrongSlug.body, '');
    const slug = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { authorization: `Bearer ${t.adminToken}`, 'x-molecule-org-slug': t.orgSlug } });
    assert.equal(slug.statusCode, 200);
  });

  it('answers unknown routes with a coded 404 and every response with a request id and security headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope', headers: t.admin() });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
    assert.match(String(res.headers['x-request-id']), /^req_/);
    assert.equal(res.json().request_id, res.headers['x-request-id']);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });
});
