/**
 * The SDK: its generated types are exactly what the committed OpenAPI snapshots produce (a route added without
 * `npm run openapi:update` fails here, as the snapshot test fails for the route itself), and its hand-written layer —
 * credentials, routing headers, retries honouring Retry-After, idempotency keys on POST, typed errors, `*.localhost`
 * on loopback — works against real servers on loopback.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  ApiError,
  createControlPlaneClient,
  createTenantClient,
  isLoopbackName,
  NetworkError,
  request,
  retryAfterMs,
} from '../src/sdk/index.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { generateSdkTypes, SDK_SOURCES } from './support/sdk-codegen.js';

describe('generated SDK types', () => {
  for (const { snapshot, file } of SDK_SOURCES) {
    it(`${file.split('/').slice(-2).join('/')} is what the committed snapshot generates (run npm run openapi:update)`, async () => {
      const expected = await generateSdkTypes(snapshot);
      assert.equal(readFileSync(file, 'utf8'), expected, `${file} is stale: run npm run openapi:update`);
    });
  }

  it('the package exports the SDK as molecule-platform/sdk', async () => {
    const sdk = await import('molecule-platform/sdk');
    assert.equal(typeof sdk.createTenantClient, 'function');
    assert.equal(typeof sdk.createControlPlaneClient, 'function');
    assert.equal(sdk.ApiError, ApiError);
  });
});

describe('Retry-After and loopback names', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(null), null);
    assert.equal(retryAfterMs('soon'), null);
    const now = Date.parse('2026-11-26T10:00:00Z');
    assert.equal(retryAfterMs('Thu, 26 Nov 2026 10:00:05 GMT', now), 5000);
    assert.equal(retryAfterMs('Thu, 26 Nov 2026 09:00:00 GMT', now), 0);
  });

  it('treats localhost and every name below it as loopback (RFC 6761), and nothing else', () => {
    for (const name of ['localhost', 'acme.localhost', 'a.b.localhost', 'ACME.LOCALHOST', 'acme.localhost.']) assert.equal(isLoopbackName(name), true, name);
    for (const name of ['localhost.example.com', 'mylocalhost', 'example.com', '127.0.0.1']) assert.equal(isLoopbackName(name), false, name);
  });
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback HTTP server answering from a script of responses, recording what it was sent. */
async function scriptedServer(script: Array<{ status: number; headers?: Record<string, string>; body?: unknown }>): Promise<{ url: string; port: number; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const step = script[Math.min(seen.length - 1, script.length - 1)]!;
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(step.body === undefined ? '' : JSON.stringify(step.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, seen, server };
}

describe('the SDK layer against scripted servers', () => {
  const servers: Server[] = [];
  after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  it('waits out a 429 for the Retry-After it names, then succeeds', async () => {
    const s = await scriptedServer([{ status: 429, headers: { 'retry-after': '1' }, body: { error: 'slow down', code: 'RATE_LIMITED' } }, { status: 200, body: [] }]);
    servers.push(s.server);
    const waits: number[] = [];
    const client = createTenantClient({ baseUrl: s.url, credential: { type: 'org-key', token: 'k' }, orgId: 'o', onRetry: (i) => waits.push(i.delayMs) });
    const { data } = await client.GET('/workspaces');
    assert.deepEqual(data, []);
    assert.deepEqual(waits, [1000]);
    assert.equal(s.seen.length, 2);
  });

  it('retries a POST on 503 with the same Idempotency-Key and body, so the server can answer the repeat once', async () => {
    const s = await scriptedServer([{ status: 503, body: { error: 'busy', code: 'UNAVAILABLE' } }, { status: 503 }, { status: 201, body: { id: 'w1' } }]);
    servers.push(s.server);
    const client = createTenantClient({ baseUrl: s.url, credential: { type: 'org-key', token: 'k' }, orgId: 'o', retry: { baseDelayMs: 10 } });
    const { data } = await client.POST('/workspaces', { body: { name: 'demo' } });
    assert.deepEqual(data, { id: 'w1' });
    assert.equal(s.seen.length, 3);
    const keys = new Set(s.seen.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 1, 'one key for every attempt');
    assert.match([...keys][0] as string, /^[0-9a-f-]{36}$/);
    assert.deepEqual(s.seen.map((r) => JSON.parse(r.body)), [{ name: 'demo' }, { name: 'demo' }, { name: 'demo' }]);
  });

  it('waits while the first attempt with the same Idempotency-Key is still in flight (409 IDEMPOTENCY_KEY_IN_USE)', async () => {
    const s = await scriptedServer([
      { status: 409, headers: { 'retry-after': '1' }, body: { error: 'busy', code: 'IDEMPOTENCY_KEY_IN_USE' } },
      { status: 201, headers: { 'idempotent-replayed': 'true' }, body: { id: 'w1' } },
    ]);
    servers.push(s.server);
    const client = createTenantClient({ baseUrl: s.url, orgId: 'o' });
    const { data } = await client.POST('/workspaces', { body: { name: 'demo' } });
    assert.deepEqual(data, { id: 'w1' });
    assert.equal(s.seen.length, 2);
    assert.equal(s.seen[0]!.headers['idempotency-key'], s.seen[1]!.headers['idempotency-key']);
  });

  it('gives up after the retries allowed and throws the last error, typed', async () => {
    const s = await scriptedServer([{ status: 503, headers: { 'x-request-id': 'req-1' }, body: { error: 'database unavailable', code: 'DATASTORE_UNAVAILABLE', request_id: 'req-1' } }]);
    servers.push(s.server);
    const client = createTenantClient({ baseUrl: s.url, orgId: 'o', retry: { retries: 2, baseDelayMs: 5 } });
    const err = await client.GET('/workspaces').then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.code, 'DATASTORE_UNAVAILABLE');
    assert.equal(err.message, 'database unavailable');
    assert.equal(err.requestId, 'req-1');
    assert.equal(s.seen.length, 3);
  });

  it('does not retry other errors', async () => {
    const s = await scriptedServer([{ status: 409, body: { error: 'template already exists', code: 'CONFLICT', request_id: 'r' } }]);
    servers.push(s.server);
    const client = createTenantClient({ baseUrl: s.url, orgId: 'o' });
    await assert.rejects(client.POST('/templates/import', { body: { name: 'x', files: {} } }), (e: unknown) => e instanceof ApiError && e.status === 409 && e.code === 'CONFLICT');
    assert.equal(s.seen.length, 1);
  });

  it('sends each credential the way the services expect it, and the org routing header', async () => {
    const s = await scriptedServer([{ status: 200, body: {} }]);
    servers.push(s.server);
    await createTenantClient({ baseUrl: s.url, credential: { type: 'workspace-token', token: 'wt' }, orgId: 'org-1' }).GET('/health');
    await createTenantClient({ baseUrl: s.url, credential: { type: 'session', token: 'sess' }, orgSlug: 'acme' }).GET('/health');
    await createControlPlaneClient({ baseUrl: s.url, credential: { type: 'partner-key', token: 'pk' } }).GET('/health');
    const [a, b, c] = s.seen;
    assert.equal(a!.headers['authorization'], 'Bearer wt');
    assert.equal(a!.headers['x-molecule-org-id'], 'org-1');
    assert.equal(b!.headers['cookie'], 'mcp_session=sess');
    assert.equal(b!.headers['authorization'], undefined);
    assert.equal(b!.headers['x-molecule-org-slug'], 'acme');
    assert.equal(c!.headers['authorization'], 'Bearer pk');
    assert.equal(c!.headers['x-molecule-org-id'], undefined);
  });

  it('reaches http://<org>.localhost:<port> on loopback, with the name in the Host header', async () => {
    const s = await scriptedServer([{ status: 200, body: { status: 'ok' } }]);
    servers.push(s.server);
    const client = createTenantClient({ baseUrl: `http://acme.localhost:${s.port}`, orgSlug: 'acme' });
    const { data } = await client.GET('/health');
    assert.deepEqual(data, { status: 'ok' });
    assert.equal(s.seen[0]!.headers['host'], `acme.localhost:${s.port}`);
  });

  it('throws a NetworkError when nothing answers, after retrying a safe request', async () => {
    const s = await scriptedServer([{ status: 200 }]);
    const port = s.port;
    await new Promise((r) => s.server.close(r));
    let attempts = 0;
    const client = createTenantClient({ baseUrl: `http://127.0.0.1:${port}`, orgId: 'o', retry: { retries: 2, baseDelayMs: 5 }, onRetry: () => attempts++ });
    await assert.rejects(client.GET('/health'), (e: unknown) => e instanceof NetworkError && /cannot reach/.test(e.message));
    assert.equal(attempts, 2);
  });
});

forEachDatabase('the SDK against a real tenant', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { listen: true });
  });
  after(() => t.close());

  it('lists, creates and reads workspaces with an org key; errors carry the server code and request id', async () => {
    const key = await t.mintKey({ name: 'sdk', role: 'editor' });
    const client = createTenantClient({ baseUrl: t.url, credential: { type: 'org-key', token: key.auth_token }, orgId: t.orgId });
    const { data: created } = await client.POST('/workspaces', { body: { name: 'sdk-made' } });
    assert.equal(created?.name, 'sdk-made');
    const { data: got } = await client.GET('/workspaces/{id}', { params: { path: { id: created!.id } } });
    assert.equal(got?.id, created!.id);
    const { data: list } = await client.GET('/workspaces');
    assert.ok(list?.some((w) => w.id === created!.id));

    const missing = await client.GET('/workspaces/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } }).then(() => null, (e: unknown) => e);
    assert.ok(missing instanceof ApiError);
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'WORKSPACE_NOT_FOUND');
    assert.match(missing.requestId ?? '', /.+/);
  });

  it('a POST repeated with its Idempotency-Key is answered from the first, and creates one workspace', async () => {
    const client = createTenantClient({ baseUrl: t.url, credential: { type: 'admin-token', token: t.adminToken }, orgId: t.orgId });
    const headers = { 'idempotency-key': `sdk-${Date.now()}` };
    const first = await client.POST('/workspaces', { body: { name: 'once-only' }, headers });
    const again = await client.POST('/workspaces', { body: { name: 'once-only' }, headers });
    assert.equal(again.data?.id, first.data?.id);
    assert.equal(again.response.headers.get('idempotent-replayed'), 'true');
    const { data: list } = await client.GET('/workspaces');
    assert.equal(list?.filter((w) => w.name.startsWith('once-only')).length, 1);
    await assert.rejects(
      client.POST('/workspaces', { body: { name: 'something else' }, headers }),
      (e: unknown) => e instanceof ApiError && e.status === 422 && e.code === 'IDEMPOTENCY_KEY_REUSED',
    );
  });

  it('without the org routing header the tenant refuses with its code', async () => {
    const client = createTenantClient({ baseUrl: t.url, credential: { type: 'admin-token', token: t.adminToken } });
    await assert.rejects(client.GET('/workspaces'), (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'TENANT_ORG_HEADER_REQUIRED');
  });

  it('a revoked key is a typed 401 on the next call', async () => {
    const key = await t.mintKey({ name: 'soon-revoked' });
    const client = createTenantClient({ baseUrl: t.url, credential: { type: 'org-key', token: key.auth_token }, orgId: t.orgId });
    await client.GET('/workspaces');
    await createTenantClient({ baseUrl: t.url, credential: { type: 'admin-token', token: t.adminToken }, orgId: t.orgId }).DELETE('/org/tokens/{id}', { params: { path: { id: key.id } } });
    await assert.rejects(client.GET('/workspaces'), (e: unknown) => e instanceof ApiError && e.status === 401);
  });

  it('reaches any route untyped through the same client (request)', async () => {
    const client = createTenantClient({ baseUrl: t.url, credential: { type: 'admin-token', token: t.adminToken }, orgId: t.orgId });
    const res = await request(client, 'GET', '/audit', { query: { limit: '2' } });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray((res.json as { events: unknown[] }).events));
    await assert.rejects(request(client, 'GET', '/no-such-route'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.code === 'ROUTE_NOT_FOUND');
  });
});
