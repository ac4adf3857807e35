import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/core/logger.js';
import { SessionVerifier } from '../src/tenant/auth/session-verifier.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

/**
 * A real HTTP server playing the control plane's `GET /cp/auth/tenant-member?slug=` (the contract tier 1
 * depends on). It answers from a table of cookies, counts calls, and can be told to hang or fail.
 */
class FakeControlPlane {
  readonly members = new Map<string, { user_id: string; role: string }>();
  calls: Array<{ slug: string | null; cookie: string | undefined; userAgent: string | undefined }> = [];
  mode: 'normal' | 'hang' | 'error500' = 'normal';
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req: IncomingMessage, res) => {
      const u = new URL(req.url ?? '/', 'http://cp');
      this.calls.push({ slug: u.searchParams.get('slug'), cookie: req.headers.cookie, userAgent: req.headers['user-agent'] });
      if (u.pathname !== '/cp/auth/tenant-member') {
        res.writeHead(404).end();
        return;
      }
      if (this.mode === 'hang') return; // never answers: the verifier's timeout must fire
      if (this.mode === 'error500') {
        res.writeHead(500).end('boom');
        return;
      }
      const session = /mcp_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
      const member = session ? this.members.get(session) : undefined;
      if (!member) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not a member' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ member: true, ...member }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('session verifier against a real HTTP control plane', () => {
  const cp = new FakeControlPlane();
  const log = createLogger({ name: 'test', level: 'silent' });
  let now = 1_000_000;
  before(() => cp.start());
  after(() => cp.stop());

  it('accepts only 200 + member:true + a non-empty user_id, forwarding the raw cookie and the slug', async () => {
    cp.members.set('good', { user_id: 'user_1', role: 'owner' });
    const v = new SessionVerifier({ cpUpstreamUrl: cp.url + '/', slug: 'acme', log, now: () => now });
    assert.deepEqual(await v.verify('theme=dark; mcp_session=good'), { userId: 'user_1', role: 'owner' });
    const call = cp.calls.at(-1)!;
    assert.equal(call.slug, 'acme');
    assert.equal(call.cookie, 'theme=dark; mcp_session=good');
    assert.match(call.userAgent ?? '', /molecule-tenant/);
    assert.equal(await v.verify('mcp_session=stranger'), null);
  });

  it('caches yes for 30 s and no for 5 s', async () => {
    cp.members.set('cached', { user_id: 'user_2', role: 'member' });
    const v = new SessionVerifier({ cpUpstreamUrl: cp.url, slug: 'acme', log, now: () => now });
    const start = cp.calls.length;
    await v.verify('mcp_session=cached');
    await v.verify('mcp_session=cached');
    assert.equal(cp.calls.length - start, 1, 'second call served from cache');
    cp.members.delete('cached');
    now += 29_000;
    assert.ok(await v.verify('mcp_session=cached'), 'still cached at 29 s');
    now += 2_000;
    assert.equal(await v.verify('mcp_session=cached'), null, 'expired at 31 s, re-asked, no longer a member');
    const afterNo = cp.calls.length;
    cp.members.set('cached', { user_id: 'user_2', role: 'member' });
    assert.equal(await v.verify('mcp_session=cached'), null, 'negative answer cached');
    now += 5_001;
    assert.ok(await v.verify('mcp_session=cached'), 'negative cache expired after 5 s');
    assert.equal(cp.calls.length - afterNo, 1);
  });

  it('does not cache transport errors or timeouts, and a 500 is a "no"', async () => {
    cp.members.set('flaky', { user_id: 'user_3', role: 'member' });
    const v = new SessionVerifier({ cpUpstreamUrl: cp.url, slug: 'acme', log, now: () => now, timeoutMs: 200 });
    cp.mode = 'hang';
    assert.equal(await v.verify('mcp_session=flaky'), null);
    cp.mode = 'normal';
    assert.ok(await v.verify('mcp_session=flaky'), 'the timeout was not cached');
    const down = new SessionVerifier({ cpUpstreamUrl: 'http://127.0.0.1:1', slug: 'acme', log, now: () => now });
    assert.equal(await down.verify('mcp_session=flaky'), null);
    cp.mode = 'error500';
    const v2 = new SessionVerifier({ cpUpstreamUrl: cp.url, slug: 'acme', log, now: () => now });
    assert.equal(await v2.verify('mcp_session=flaky'), null);
    cp.mode = 'normal';
  });

  it('partitions the cache by slug', async () => {
    cp.members.set('multi', { user_id: 'user_4', role: 'member' });
    const a = new SessionVerifier({ cpUpstreamUrl: cp.url, slug: 'org-a', log, now: () => now });
    await a.verify('mcp_session=multi');
    const before = cp.calls.length;
    const b = new SessionVerifier({ cpUpstreamUrl: cp.url, slug: 'org-b', log, now: () => now });
    await b.verify('mcp_session=multi');
    assert.equal(cp.calls.length - before, 1);
    assert.equal(cp.calls.at(-1)!.slug, 'org-b');
  });
});

forEachDatabase('tier 1: control-plane sessions on the tenant', (kind) => {
  const cp = new FakeControlPlane();
  let t: TestTenant;
  before(async () => {
    await cp.start();
    cp.members.set('alice-session', { user_id: 'user_alice', role: 'owner' });
    t = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url } });
  });
  after(async () => {
    await t.close();
    await cp.stop();
  });

  it('a member’s cookie opens admin routes and attributes mints to session:<user_id>', async () => {
    const headers = { 'x-molecule-org-id': t.orgId, cookie: 'mcp_session=alice-session' };
    const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers });
    assert.equal(list.statusCode, 200);
    const mint = await t.app.inject({ method: 'POST', url: '/org/tokens', headers, payload: { name: 'from-session' } });
    assert.equal(mint.statusCode, 200);
    assert.equal(mint.json().created_by, 'session:user_alice');
    assert.equal(cp.calls.at(-1)!.slug, t.orgSlug);
  });

  it('a non-member cookie falls through: 401 without a bearer, the bearer decides with one', async () => {
    const headers = { 'x-molecule-org-id': t.orgId, cookie: 'mcp_session=mallory' };
    const res = await t.app.inject({ method: 'GET', url: '/workspaces', headers });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error, 'admin auth required');
    const withBearer = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { ...t.admin(), cookie: 'mcp_session=mallory' } });
    assert.equal(withBearer.statusCode, 200);
  });

  it('a session opens workspace routes too', async () => {
    const ws = await t.createWorkspace();
    const res = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: { 'x-molecule-org-id': t.orgId, cookie: 'mcp_session=alice-session' } });
    assert.equal(res.statusCode, 200);
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
