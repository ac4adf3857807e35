/**
 * The tenant's own /cp/* proxy (reference §3.8(c), §7 check 60): only the sign-in, orgs, billing, templates and legal
 * prefixes reach the control plane, with Cookie, Authorization and X-Forwarded-For, and the CP's Host; everything else
 * under /cp/ is 404 before any request leaves (a recording CP proves it); an unreachable CP is 502.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestControlPlane, type TestControlPlane } from './cp-harness.js';
import { startTestTenant, type TestTenant } from './harness.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A control plane stand-in that records every request it gets and answers 200 `{seen: <url>}`. */
async function recordingUpstream(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seen: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A raw request: the path goes out exactly as written (fetch would resolve `..` before sending). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the tenant /cp/* proxy', () => {
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;
  let t: TestTenant;

  before(async () => {
    upstream = await recordingUpstream();
    // No ADMIN_TOKEN: not a CP-provisioned tenant, so the recorder sees no boot events or anchors, only what is proxied.
    t = await startTestTenant('pglite', { listen: true, withoutAdminToken: true, env: { CP_UPSTREAM_URL: upstream.url } });
  });
  after(async () => {
    await t?.close();
    await upstream?.close();
  });

  it('forwards the allowlisted prefixes (no org header needed) with Cookie, Authorization, X-Forwarded-For and the CP’s Host', async () => {
    const paths = ['/cp/auth/me', '/cp/orgs', '/cp/orgs?limit=5', '/cp/orgs/acme/provision-status', '/cp/billing/plans', '/cp/templates', '/cp/templates/basic', '/cp/legal/terms'];
    for (const path of paths) {
      const before = upstream.seen.length;
      const res = await fetch(`${t.url}${path}`, { headers: { cookie: 'mcp_session=abc', authorization: 'Bearer cp-user-token' } });
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      assert.deepEqual(await res.json(), { seen: path });
      assert.equal(upstream.seen.length, before + 1, path);
      const got = upstream.seen.at(-1)!;
      assert.equal(got.url, path);
      assert.equal(got.headers.cookie, 'mcp_session=abc');
      assert.equal(got.headers.authorization, 'Bearer cp-user-token');
      assert.equal(got.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(got.headers.host, new URL(upstream.url).host);
    }
  });

  it('streams a request body through (a sign-in)', async () => {
    const res = await fetch(`${t.url}/cp/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@example.com', password: 'pw' }) });
    assert.equal(res.status, 200);
    const got = upstream.seen.at(-1)!;
    assert.deepEqual([got.method, got.url, JSON.parse(got.body)], ['POST', '/cp/auth/login', { email: 'a@example.com', password: 'pw' }]);
  });

  it('everything else under /cp/ is 404 and never reaches the CP: admin, tenants, workspaces, internal, look-alikes and dot segments', async () => {
    const before = upstream.seen.length;
    const refused = [
      '/cp/admin/orgs',
      '/cp/orgsabc',
      '/cp/orgs-admin/x',
      '/cp/tenants/config',
      '/cp/workspaces/provision',
      '/cp/internal/usage',
      '/cp',
      '/cp/',
      '/cp/authx',
      '/cp/auth/../admin/orgs',
      '/cp/auth/%2e%2e/admin/orgs',
      '/cp/auth/..%2fadmin/orgs',
      '/cp/orgs/%2E%2E/admin/orgs',
    ];
    for (const path of refused) {
      const res = await raw(t.url, 'GET', path, { cookie: 'mcp_session=abc' });
      assert.equal(res.status, 404, `${path}: ${res.body}`);
      assert.equal(JSON.parse(res.body).code, 'ROUTE_NOT_FOUND', path);
    }
    const post = await raw(t.url, 'POST', '/cp/admin/orgs', { 'content-type': 'application/json' });
    assert.equal(post.status, 404);
    assert.deepEqual(upstream.seen.slice(before), [], 'the CP saw none of them');
  });

  it('the tenant’s own routes are untouched: TenantGuard still wants the org header there', async () => {
    const res = await fetch(`${t.url}/workspaces`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, 'TENANT_ORG_HEADER_REQUIRED');
  });
});

describe('the tenant /cp/* proxy: the CP unreachable, or not configured', () => {
  it('an unreachable CP → 502 "control plane unavailable"', async () => {
    const t = await startTestTenant('pglite', { listen: true, withoutAdminToken: true, env: { CP_UPSTREAM_URL: 'http://127.0.0.1:1' } });
    try {
      const res = await fetch(`${t.url}/cp/auth/me`);
      assert.equal(res.status, 502);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual([body['code'], body['error']], ['CONTROL_PLANE_UNAVAILABLE', 'control plane unavailable']);
      assert.equal(typeof body['request_id'], 'string');
    } finally {
      await t.close();
    }
  });

  it('without CP_UPSTREAM_URL nothing is proxied: /cp/* is the tenant’s own 404', async () => {
    const t = await startTestTenant('pglite', { listen: true });
    try {
      const res = await fetch(`${t.url}/cp/auth/me`, { headers: { 'x-molecule-org-id': t.orgId } });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { code: string }).code, 'ROUTE_NOT_FOUND');
    } finally {
      await t.close();
    }
  });
});

describe('the tenant /cp/* proxy in front of a real control plane', () => {
  let cp: TestControlPlane;
  let t: TestTenant;
  before(async () => {
    cp = await startTestControlPlane('pglite', { listen: true });
    t = await startTestTenant('pglite', { listen: true, env: { CP_UPSTREAM_URL: cp.url } });
  });
  after(async () => {
    await t?.close();
    await cp?.close();
  });

  it('a signed-in user reaches /cp/auth/me and their org’s provision status through the tenant, with their cookie', async () => {
    const user = await cp.signup();
    const org = await cp.createOrg(user);
    const me = await fetch(`${t.url}/cp/auth/me`, { headers: { cookie: user.cookie } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user_id: string }).user_id, user.userId);
    const status = await fetch(`${t.url}/cp/orgs/${org.slug}/provision-status`, { headers: { cookie: user.cookie } });
    assert.equal(status.status, 200);
    assert.equal(status.headers.get('deprecation') !== null, true, 'the CP’s own /cp alias answered');
    const admin = await fetch(`${t.url}/cp/admin/orgs`, { headers: cp.admin() });
    assert.equal(admin.status, 404, 'not even the CP admin bearer gets to /cp/admin/* through a tenant');
  });
});
