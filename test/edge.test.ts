/**
 * The edge (README, "The edge"): a control plane listening on loopback proxies to two real tenants (and to a plain
 * HTTP echo server where the exact bytes and headers an upstream receives must be seen), over real HTTP. The org
 * rows say where each tenant is, as the provisioner will write them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { until } from './support/platform.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with exactly these headers (fetch cannot set Host). */
function call(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Echoed {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  length: number;
  sha256: string;
  text: string;
}

/** An upstream that answers with what it received; counts its TCP connections. */
async function startEcho(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const echoed: Echoed = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        length: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        text: body.length < 10_000 ? body.toString('utf8') : '',
      };
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' });
      res.end(JSON.stringify(echoed));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** A loopback URL nothing listens on: a port that was bound and released. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

forEachDatabase('edge', (kind) => {
  let cp: TestControlPlane;
  let owner: TestUser;
  let a: TestTenant;
  let b: TestTenant;
  let orgA: TestOrg;
  let orgB: TestOrg;
  let orgPending: TestOrg;
  let orgDown: TestOrg;
  let orgEcho: TestOrg;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let keyA: string;
  let keyB: string;
  let port: string;
  const host = (org: TestOrg) => `${org.slug}.localhost:${port}`;

  /** What the provisioner will write once a tenant is up. */
  async function markRunning(org: TestOrg, url: string) {
    const r = await cp.db.updateTable('org_instances').set({ status: 'running', url, stage: 'running', progress: 100 }).where('org_id', '=', org.id).executeTakeFirst();
    assert.equal(Number(r.numUpdatedRows), 1, `org ${org.slug} has an instance row`);
  }

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
    port = new URL(cp.url).port;
    owner = await cp.signup();
    [orgA, orgB, orgPending, orgDown, orgEcho] = [await cp.createOrg(owner), await cp.createOrg(owner), await cp.createOrg(owner), await cp.createOrg(owner), await cp.createOrg(owner)];
    a = await startTestTenant(kind, { listen: true, env: { MOLECULE_ORG_ID: orgA.id, MOLECULE_ORG_SLUG: orgA.slug } });
    b = await startTestTenant(kind, { listen: true, env: { MOLECULE_ORG_ID: orgB.id, MOLECULE_ORG_SLUG: orgB.slug } });
    echo = await startEcho();
    await markRunning(orgA, a.url);
    await markRunning(orgB, b.url);
    await markRunning(orgDown, await deadUrl());
    await markRunning(orgEcho, echo.url);
    keyA = (await a.mintKey({ name: 'edge-a' })).auth_token;
    keyB = (await b.mintKey({ name: 'edge-b' })).auth_token;
  });
  after(async () => {
    await cp?.close();
    await a?.close();
    await b?.close();
    await echo?.close();
  });

  it('routes by Host <slug>.localhost and by X-Molecule-Org-Slug on the CP host to the right tenant', async () => {
    const wsA = await a.createWorkspace({ name: 'only-in-a' });
    const wsB = await b.createWorkspace({ name: 'only-in-b' });
    const viaHost = await call(cp.url, 'GET', '/workspaces', { host: host(orgA), ...a.as(keyA) });
    assert.equal(viaHost.status, 200, viaHost.body);
    const idsA = (JSON.parse(viaHost.body) as Array<{ id: string }>).map((w) => w.id);
    assert.ok(idsA.includes(wsA.id) && !idsA.includes(wsB.id), viaHost.body);

    const viaHeader = await call(cp.url, 'GET', '/workspaces', { host: `127.0.0.1:${port}`, 'x-molecule-org-slug': orgB.slug, ...b.as(keyB) });
    assert.equal(viaHeader.status, 200, viaHeader.body);
    const idsB = (JSON.parse(viaHeader.body) as Array<{ id: string }>).map((w) => w.id);
    assert.ok(idsB.includes(wsB.id) && !idsB.includes(wsA.id), viaHeader.body);
  });

  it("passes credentials unchanged: org A's key through org B's host is judged (and refused) by tenant B", async () => {
    const res = await call(cp.url, 'GET', '/workspaces', { host: host(orgB), ...a.as(keyA) });
    // Tenant B's guard sees A's org id in X-Molecule-Org-Id: not its org → its reference answer, 404 with no body.
    assert.equal(res.status, 404, res.body);
    assert.equal(res.body, '');
    const direct = await call(b.url, 'GET', '/workspaces', a.as(keyA));
    assert.deepEqual([direct.status, direct.body], [404, ''], 'the same request straight to tenant B answers the same');
    // With B's org id but A's key, tenant B's authentication refuses the key itself.
    const wrongKey = await call(cp.url, 'GET', '/workspaces', { host: host(orgB), ...b.as(keyA) });
    assert.equal(wrongKey.status, 401, wrongKey.body);
    const refused = JSON.parse(wrongKey.body) as { code: string; request_id: string };
    assert.equal(refused.request_id, wrongKey.headers['x-request-id']);
    assert.ok(refused.code.length > 0, wrongKey.body);
  });

  it('a POST body reaches the tenant intact and its answer comes back', async () => {
    const res = await call(cp.url, 'POST', '/workspaces', { host: host(orgA), ...a.as(keyA), 'content-type': 'application/json' }, JSON.stringify({ name: 'made-through-the-edge ✓' }));
    assert.equal(res.status, 201, res.body);
    const made = JSON.parse(res.body) as { id: string; name: string };
    assert.equal(made.name, 'made-through-the-edge ✓');
    const row = await a.db.selectFrom('workspaces').select(['name']).where('id', '=', made.id).executeTakeFirst();
    assert.equal(row?.name, 'made-through-the-edge ✓');
  });

  it('headers pass unchanged, X-Forwarded-For/Proto/Host are the edge’s own, and large bodies stream untouched', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'x'); // past the CP's own 1 MiB body limit: the CP never parses it
    const sent = {
      host: host(orgEcho),
      authorization: 'Bearer some-org-key',
      cookie: 'mcp_session=abc; other=1',
      'x-molecule-org-id': orgEcho.id,
      'x-molecule-org-slug': 'whatever-the-client-says',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-host': 'forged.example',
      'content-type': 'application/octet-stream',
    };
    const res = await call(cp.url, 'PUT', '/some/tenant/path?q=1&r=%20', sent, big);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['x-upstream'], 'echo');
    const seen = JSON.parse(res.body) as Echoed;
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.url, '/some/tenant/path?q=1&r=%20');
    assert.equal(seen.length, big.length);
    assert.equal(seen.sha256, createHash('sha256').update(big).digest('hex'));
    for (const h of ['authorization', 'cookie', 'x-molecule-org-id', 'x-molecule-org-slug', 'host', 'content-type'] as const) {
      assert.equal(seen.headers[h], sent[h], h);
    }
    // The CP trusts no proxy (TRUST_PROXY unset): the client's own X-Forwarded-* are replaced, not passed on.
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], host(orgEcho));
    assert.equal(seen.headers['x-request-id'], res.headers['x-request-id']);
  });

  it('a host-routed request without an org header gets the slug from the host; one with a header keeps its own', async () => {
    const bare = JSON.parse((await call(cp.url, 'GET', '/x', { host: host(orgEcho) })).body) as Echoed;
    assert.equal(bare.headers['x-molecule-org-slug'], orgEcho.slug, 'the edge names the org the host named');
    assert.equal(bare.headers['x-molecule-org-id'], undefined);
    const withId = JSON.parse((await call(cp.url, 'GET', '/x', { host: host(orgEcho), 'x-molecule-org-id': 'client-chosen' })).body) as Echoed;
    assert.equal(withId.headers['x-molecule-org-id'], 'client-chosen', 'passed unchanged: the tenant guard judges it');
    assert.equal(withId.headers['x-molecule-org-slug'], undefined, 'nothing added beside a header the client sent');
    const byHeader = JSON.parse((await call(cp.url, 'GET', '/x', { host: `127.0.0.1:${port}`, 'x-molecule-org-slug': orgEcho.slug })).body) as Echoed;
    assert.equal(byHeader.headers['x-molecule-org-slug'], orgEcho.slug);
    assert.equal(byHeader.headers['x-molecule-org-id'], undefined, 'header-routed requests get nothing added');
  });

  it('keeps connections to a tenant alive across requests', async () => {
    const before = echo.connections();
    for (let i = 0; i < 5; i++) {
      const res = await call(cp.url, 'GET', `/n/${i}`, { host: host(orgEcho) });
      assert.equal(res.status, 200, res.body);
      assert.equal((JSON.parse(res.body) as Echoed).url, `/n/${i}`);
    }
    assert.ok(echo.connections() - before <= 1, `5 sequential requests opened ${echo.connections() - before} connections`);
  });

  it('streams SSE: an event from the tenant’s /events/stream arrives through the edge while the stream is open', async () => {
    const u = new URL(cp.url);
    const { res, first } = await new Promise<{ res: http.IncomingMessage; first: string }>((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: '/events/stream', headers: { host: host(orgA), ...a.as(keyA) }, agent: false }, (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) => resolve({ res, first: chunk }));
        res.once('end', () => reject(new Error('the stream ended before any event arrived')));
      });
      req.on('error', reject);
      req.end();
    });
    try {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      assert.match(first, /^: ping/m);
      assert.equal(res.complete, false, 'the stream is still open');
    } finally {
      res.destroy();
    }
    // The client hanging up ends the proxied stream quietly: no second answer is attempted on the sent response
    // (once: "Reply was already sent …" warnings, a 404 and two 500s written into the log per closed stream).
    // Nothing marks the end of a quietly closed stream, so watch the CP's log for a while: the bug wrote its lines
    // within milliseconds of the hang-up. (A very slow machine could let a regression slip by; it never fails spuriously.)
    const reqId = String(res.headers['x-request-id']);
    const complaints = () => cp.logs().filter((l) => l['reqId'] === reqId && Number(l['level']) >= 40);
    await until('a complaint about the closed stream', () => complaints().length > 0, 3_000, 50).catch(() => undefined);
    assert.deepEqual(complaints().map((l) => l['msg']), []);
  });

  it('closing the CP ends the streams it proxies (shutdown does not wait on a tenant’s open SSE stream)', async () => {
    const cp2 = await startTestControlPlane(kind, { listen: true });
    let closed = false;
    try {
      const org = await cp2.createOrg(await cp2.signup());
      const r = await cp2.db.updateTable('org_instances').set({ status: 'running', url: a.url }).where('org_id', '=', org.id).executeTakeFirst();
      assert.equal(Number(r.numUpdatedRows), 1);
      const u = new URL(cp2.url);
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        // Tenant A's own key and org id: tenant A serves it whichever edge it came through.
        const req = http.request({ host: u.hostname, port: u.port, path: '/events/stream', headers: { host: `${org.slug}.localhost:${u.port}`, ...a.as(keyA) }, agent: false }, (res) => {
          res.once('data', () => resolve(res));
        });
        req.on('error', reject);
        req.end();
      });
      const ended = new Promise<void>((resolve) => {
        res.on('close', resolve);
        res.on('error', () => resolve());
      });
      assert.equal(res.statusCode, 200);
      await cp2.close();
      closed = true;
      await ended;
      assert.equal(res.complete, false, 'the stream was cut by the shutdown, not finished by the tenant');
    } finally {
      if (!closed) await cp2.close();
    }
  });

  it('unknown slug → 404 ORG_NOT_FOUND, by Host and by header', async () => {
    for (const headers of <Array<Record<string, string>>>[{ host: `nosuch-org.localhost:${port}` }, { host: `127.0.0.1:${port}`, 'x-molecule-org-slug': 'nosuch-org' }, { host: `127.0.0.1:${port}`, 'x-molecule-org-slug': '../Bad Slug' }]) {
      const res = await call(cp.url, 'GET', '/workspaces', headers);
      assert.equal(res.status, 404, res.body);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      assert.equal(body['code'], 'ORG_NOT_FOUND');
      assert.equal(body['error'], 'org not found');
      assert.equal(body['request_id'], res.headers['x-request-id']);
    }
  });

  it('an org still provisioning → 503 TENANT_NOT_READY with Retry-After', async () => {
    const row = await cp.db.selectFrom('org_instances').select(['status', 'eta_seconds']).where('org_id', '=', orgPending.id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'provisioning');
    // The instance's own estimate, within 1–60 s (5 s when it gives none).
    const expected = row.eta_seconds > 0 ? Math.min(Math.max(row.eta_seconds, 1), 60) : 5;
    const res = await call(cp.url, 'GET', '/workspaces', { host: host(orgPending) });
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers['retry-after'], String(expected));
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(body['code'], 'TENANT_NOT_READY');
    assert.equal(body['retry_after_seconds'], expected);
    assert.equal(body['request_id'], res.headers['x-request-id']);
  });

  it('a tenant that is down → 502 TENANT_UNREACHABLE', async () => {
    const res = await call(cp.url, 'POST', '/workspaces', { host: host(orgDown), 'content-type': 'application/json' }, '{"name":"x"}');
    assert.equal(res.status, 502, res.body);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(body['code'], 'TENANT_UNREACHABLE');
    assert.equal(body['request_id'], res.headers['x-request-id']);
  });

  it('the CP’s own routes stay the CP’s on its host, even with the org header; on a tenant host they are the tenant’s', async () => {
    const me = await call(cp.url, 'GET', '/api/v1/auth/me', { host: `127.0.0.1:${port}`, cookie: owner.cookie, 'x-molecule-org-slug': orgA.slug });
    assert.equal(me.status, 200, me.body);
    assert.equal((JSON.parse(me.body) as { email?: string; user?: { email: string } }).user?.email ?? (JSON.parse(me.body) as { email?: string }).email, owner.email);
    const meNoCookie = await call(cp.url, 'GET', '/api/v1/auth/me', { host: `app.localhost:${port}` });
    assert.equal(meNoCookie.status, 401, 'a reserved label names the platform, not a tenant');
    assert.equal((JSON.parse(meNoCookie.body) as { code: string }).code, 'SESSION_REQUIRED');

    // On a tenant host the same path is the tenant's (the CP would have answered 200 for this cookie): tenant A has no
    // such route, with the org the host named or with the client's own org header; a wrong org header is A's guard's 404.
    const onTenant = await call(cp.url, 'GET', '/api/v1/auth/me', { host: host(orgA), cookie: owner.cookie });
    assert.equal(onTenant.status, 404, onTenant.body);
    assert.equal((JSON.parse(onTenant.body) as { code: string }).code, 'ROUTE_NOT_FOUND');
    const wrongOrg = await call(cp.url, 'GET', '/workspaces', { host: host(orgA), 'x-molecule-org-id': orgB.id });
    assert.equal(wrongOrg.status, 404, wrongOrg.body);
    const routed = await call(cp.url, 'GET', '/api/v1/auth/me', { host: host(orgA), cookie: owner.cookie, 'x-molecule-org-id': orgA.id });
    assert.equal(routed.status, 404, routed.body);
    assert.equal((JSON.parse(routed.body) as { code: string }).code, 'ROUTE_NOT_FOUND');
    const health = await call(cp.url, 'GET', '/health', { host: host(orgEcho) });
    assert.equal((JSON.parse(health.body) as Echoed).url, '/health', 'the base app’s own routes are the tenant’s too');
    const cpHealth = await call(cp.url, 'GET', '/health', { host: `127.0.0.1:${port}`, 'x-molecule-org-slug': orgEcho.slug });
    assert.equal(cpHealth.status, 200);
    assert.equal(cpHealth.headers['x-upstream'], undefined, 'the CP answered its own /health');
  });
});
