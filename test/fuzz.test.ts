/**
 * Issue 8: no input yields a 5xx. Every route of both services, on both databases, gets generated requests derived
 * from its request schemas in the served OpenAPI document (hidden HTML pages: from the schema they were registered
 * with; the control plane's `/cp` alias: from its `/api/v1` twin), sent with valid credentials and fixtures' real
 * ids so they reach the handlers, and usually made hostile in one place: NUL bytes, lone surrogates, 1 MB strings,
 * 5,000-deep nesting, huge and non-finite numbers, `__proto__`/`constructor` keys, wrong types, wrong content
 * types, malformed JSON and malformed path ids (test/support/fuzz/). Each answer must be below 500, every error in
 * the one error body, and an error must leave every table exactly as it was.
 *
 * What the before/after checksum leaves out, and why:
 * - the audit tables (`audit_*`): every authenticated request is recorded, refused ones included (DESIGN.md §5);
 * - `last_used_at` columns: a credential presented with a refused request was still used (written behind, once a
 *   second, by the usage tracker — so it may land during any later case).
 * Nothing else writes in the background here, by configuration: the tenant keeps workspaces as records
 * (WORKSPACE_PROVISIONER=none: nothing is spawned, restarted or timed out), and its lifecycle sweeper, which runs
 * once the tenant listens, only marks workspaces offline after HEARTBEAT_TTL_SECONDS without a heartbeat — set to
 * an hour here, longer than the run. The control plane's session sweeper runs hourly.
 *
 * Cases per route: `FUZZ_RUNS` (default 6); a failure prints fast-check's seed, replayed with `FUZZ_SEED`.
 */
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { API_PREFIX, LEGACY_PREFIX } from '../src/control-plane/routes.js';
import { startTestControlPlane, type TestControlPlane } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type CreatedWorkspaceBody, type MintedKeyBody, type TestTenant } from './harness.js';
import { buildWorld, classify, PAGE_ROUTES, PUBLIC_PAGE_ROUTES, type CpWorld } from './support/cp-fixtures.js';
import type { KnownValues } from './support/fuzz/arbitraries.js';
import {
  checksummer,
  FUZZ_RUNS,
  fuzzRoute,
  fuzzRoutes,
  inject,
  sendOverHttp,
  type FuzzRoute,
  type FuzzTarget,
  type OpenApiDoc,
} from './support/fuzz/runner.js';

/** The web console's static pages and assets (src/core/http/console.ts): hidden from the OpenAPI documents. */
const TENANT_CONSOLE_ROUTES = ['GET /', 'GET /app', 'GET /app/*', 'GET /_console/:file'];
const CP_CONSOLE_ROUTES = ['GET /', 'GET /signin', 'GET /signup', 'GET /terms', 'GET /orgs', 'GET /orgs/*', 'GET /invitations/accept', 'GET /device', 'GET /_console/:file'];

/**
 * The channel outbox (its cursor over the event log, its delivery rows and attempts) is written by the delivery
 * worker in the background, after the request that recorded an event has answered: not a change of the request
 * being checked. The channels themselves stay checked.
 */
const BACKGROUND_TABLES = new Set(['channel_event_cursor', 'channel_deliveries', 'channel_delivery_attempts']);
/**
 * The fuzzer sends the documented `Idempotency-Key` header on POSTs too, and a 4xx the handler answered is kept under
 * its key so that a retry replays it (src/core/http/idempotency.ts): that row is the retry record, not a change of
 * the resource the request was refused on. It holds no plaintext (idempotency.test.ts checks).
 */
const RETRY_RECORD_TABLES = new Set(['idempotency_keys']);
const CHECKSUM = {
  excludeTables: (t: string) => t.startsWith('audit_') || BACKGROUND_TABLES.has(t) || RETRY_RECORD_TABLES.has(t),
  excludeColumns: new Set(['last_used_at']),
};

/**
 * Mutating routes that destroy fixtures run last (the longest path first: a member before its org). An org import in
 * `reconcile` mode removes the root workspaces its template does not list — the fixtures — so it runs with them.
 */
function inRunOrder(routes: FuzzRoute[]): FuzzRoute[] {
  // Revoking every token of a workspace runs with them too: the registry routes present the fixtures' tokens.
  const destroys = (r: FuzzRoute) => r.method === 'POST' && (r.url === '/org/import' || r.url === '/admin/workspaces/:id/revoke-auth-tokens');
  const rank = (r: FuzzRoute) => (r.method === 'DELETE' || destroys(r) ? 1 : 0);
  return [...routes].sort((a, b) => rank(a) - rank(b) || (rank(a) === 1 ? b.url.length - a.url.length : 0));
}

const fromList =
  (table: Record<string, readonly unknown[]>): KnownValues =>
  (name) =>
    table[name];

// ---------------------------------------------------------------------------------------------------------------
// Tenant
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('fuzz: tenant, every route', (kind) => {
  let t: TestTenant;
  let routes: FuzzRoute[];
  let target: FuzzTarget;
  let ws: CreatedWorkspaceBody[];
  let keys: MintedKeyBody[];
  let workspaceTokenIds: string[];
  let approvalIds: string[];
  let channelIds: string[];

  before(async () => {
    // Listening: event streams are sent over real HTTP (inject would wait for a stream that never ends).
    // Channels: the fixture's target is loopback's discard port (allowed here only), so a test send never leaves the host.
    t = await startTestTenant(kind, { listen: true, env: { HEARTBEAT_TTL_SECONDS: '3600', CHANNEL_ALLOWED_NETWORKS: '127.0.0.1' } });
    const parent = await t.createWorkspace({ external: true });
    ws = [parent, await t.createWorkspace(), await t.createWorkspace({ external: true, parent_id: parent.id })];
    keys = [await t.mintKey({ name: 'fuzz-a' }), await t.mintKey({ name: 'fuzz-b', role: 'reader' })];
    const extra = await t.app.inject({ method: 'POST', url: `/workspaces/${parent.id}/tokens`, headers: t.admin(), payload: {} });
    assert.equal(extra.statusCode, 201, extra.body);
    workspaceTokenIds = [ws[0]!.token_id, (extra.json() as { id: string }).id];
    for (const [url, key] of [
      [`/workspaces/${parent.id}/secrets`, 'FUZZ_SECRET'],
      ['/settings/secrets', 'FUZZ_GLOBAL'],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url, headers: t.admin(), payload: { key, value: 'v' } });
      assert.equal(res.statusCode, 200, res.body);
    }
    // Installed plugins, so DELETE /workspaces/:id/plugins/:name reaches its handler.
    for (const w of ws) {
      const res = await t.app.inject({ method: 'POST', url: `/workspaces/${w.id}/plugins`, headers: t.admin(), payload: { source: 'local://hello-skill' } });
      assert.equal(res.statusCode, 200, res.body);
    }
    // Pending approvals asked for by a workspace's own token, so the admin credential may decide them.
    approvalIds = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.app.inject({ method: 'POST', url: `/workspaces/${parent.id}/approvals`, headers: t.as(parent.auth_token), payload: { action: `fuzz-${i}` } });
      assert.equal(res.statusCode, 201, res.body);
      approvalIds.push((res.json() as { approval_id: string }).approval_id);
    }
    const channel = await t.app.inject({
      method: 'POST',
      url: `/workspaces/${parent.id}/channels`,
      headers: t.admin(),
      payload: { type: 'webhook', config: { url: 'http://127.0.0.1:9/fuzz', secret: 'fuzz-signing-secret-0123' }, events: ['FUZZ_FIXTURE_ONLY'] },
    });
    assert.equal(channel.statusCode, 201, channel.body);
    channelIds = [(channel.json() as { id: string }).id];
    // A template of its own for /templates/:id (the built-ins are there too; deleting one is refused).
    const imported = await t.app.inject({ method: 'POST', url: '/templates/import', headers: t.admin(), payload: { name: 'fuzz-template', files: { 'a.md': 'x' } } });
    assert.equal(imported.statusCode, 201, imported.body);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json', headers: t.admin() })).json() as OpenApiDoc;
    routes = inRunOrder(
      fuzzRoutes(doc, t.app.routeCatalog, { streams: new Set(['GET /events/stream', 'GET /workspaces/:id/events/stream']) }),
    );
    const checksum = await checksummer(t.db as unknown as Kysely<never>, CHECKSUM);
    const tokenOf = (id: unknown) => ws.find((w) => typeof id === 'string' && w.id === id.toLowerCase())?.auth_token ?? ws[0]!.auth_token;
    target = {
      send: (route, req) => (route.stream ? sendOverHttp(t.url, req) : inject(t.app, req)),
      async credentials(route, spec) {
        // The runtime's own calls take the named workspace's token (no org header needed); the rest the admin chain.
        if (route.url.startsWith('/registry/')) {
          const body = (spec.body ?? {}) as Record<string, unknown>;
          return { headers: { authorization: `Bearer ${tokenOf(body['id'] ?? body['workspace_id'])}` } };
        }
        // The decrypted values are for the workspace's own token only (the admin chain gets 403 before any decrypt).
        if (route.url === '/workspaces/:id/secrets/values') return { headers: t.as(tokenOf(spec.params['id'])) };
        return { headers: t.admin() };
      },
      checksum,
      // WORKSPACE_PROVISIONER=none keeps workspaces as records: restarting one that should run is the documented
      // 503 of that configuration (README, "Workspaces that run"), not a crash.
      allowed5xx: (_route, code) => code === 'PROVISIONER_UNAVAILABLE' || code === 'CONSOLE_NOT_BUILT',
    };
  });
  after(() => t?.close());

  it('the checksum sees any changed row, and not a last_used_at write (so the no-change check can fail)', async () => {
    const checksum = await checksummer(t.db as unknown as Kysely<never>, CHECKSUM);
    const start = await checksum();
    await t.db.updateTable('org_api_tokens').set({ last_used_at: new Date() }).where('id', '=', keys[0]!.id).execute();
    assert.deepEqual(await checksum(), start);
    await t.db.updateTable('workspaces').set({ role: 'checksum-probe' }).where('id', '=', ws[1]!.id).execute();
    const changed = await checksum();
    assert.notEqual(changed['workspaces'], start['workspaces']);
    assert.equal(changed['org_api_tokens'], start['org_api_tokens']);
    await t.db.updateTable('workspaces').set({ role: null }).where('id', '=', ws[1]!.id).execute();
    assert.deepEqual(await checksum(), start);
  });

  it('fuzzes every route the tenant serves (schemas from its served OpenAPI document)', async (ctx) => {
    const catalog = new Set(t.app.routeCatalog.map((r) => `${r.method} ${r.url}`));
    assert.deepEqual(new Set(routes.map((r) => `${r.method} ${r.url}`)), catalog);
    assert.deepEqual(
      routes.filter((r) => r.source !== 'openapi').map((r) => `${r.method} ${r.url}`).sort(),
      [...TENANT_CONSOLE_ROUTES].sort(),
      'every tenant route but the web console’s static pages is in its OpenAPI document',
    );
    const wsIds = ws.map((w) => w.id);
    for (const route of routes) {
      const known = fromList({
        id: route.url.startsWith('/org/tokens')
          ? keys.map((k) => k.id)
          : route.url.startsWith('/templates/')
            ? ['shell-agent', 'fuzz-template']
            : route.url.startsWith('/orgs/')
              ? [t.orgId, ws[0]!.id]
              : wsIds,
        template: ['shell-agent', 'node-agent', 'fuzz-template'],
        tokenId: workspaceTokenIds,
        channelId: channelIds,
        key: ['FUZZ_SECRET', 'FUZZ_GLOBAL'],
        parent_id: wsIds,
        workspace_id: wsIds,
        workspace_ids: [[ws[1]!.id]],
        cursor: route.url === '/org/tokens' ? keys.map((k) => k.id) : [],
        name: route.url.includes('/plugins/') ? ['hello-skill', 'shell-tools'] : [ws[1]!.name, `fuzz-${randomBytes(3).toString('hex')}`],
        source: ['local://hello-skill', 'shell-tools@1.0.0'],
        plugins: [['hello-skill', 'shell-tools'], []],
        enabled_by: ['fuzz'],
        actor: ['admin-token'],
        approvalId: approvalIds,
        before: approvalIds,
        kind: ['approval'],
        decision: ['approved', 'denied'],
      });
      await ctx.test(`${route.method} ${route.url}`, () => fuzzRoute(target, route, known, FUZZ_RUNS));
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Control plane
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('fuzz: control plane, every route', (kind) => {
  let cp: TestControlPlane;
  let w: CpWorld;
  let routes: FuzzRoute[];
  let target: FuzzTarget;

  before(async () => {
    cp = await startTestControlPlane(kind);
    w = await buildWorld(cp);
    const doc = (await cp.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDoc;
    routes = inRunOrder(
      fuzzRoutes(doc, cp.app.routeCatalog, {
        // The deprecated alias is described, not listed: its schemas are its /api/v1 twin's.
        twin: (url) => (url.startsWith(`${LEGACY_PREFIX}/`) ? API_PREFIX + url.slice(LEGACY_PREFIX.length) : null),
        pages: new Set([...PAGE_ROUTES, ...PUBLIC_PAGE_ROUTES]),
      }),
    );
    // DELETE /orgs/:slug runs last of all: were it to delete org A first, every later case would only meet 404s.
    routes.sort((a, b) => Number(/\/orgs\/:slug$/.test(a.url) && a.method === 'DELETE') - Number(/\/orgs\/:slug$/.test(b.url) && b.method === 'DELETE'));
    const checksum = await checksummer(cp.db as unknown as Kysely<never>, CHECKSUM);
    target = {
      send: (_route, req) => inject(cp.app, req),
      async credentials(route) {
        const tier = classify(route.method, route.url)?.tier;
        if (tier === 'admin') return { headers: cp.admin() };
        if (tier === 'public' || tier === 'public-page') return { headers: {} };
        // Signing out ends the session it is sent with: each case gets its own, so the owner's stays usable.
        if (route.method === 'POST' && route.url.endsWith('/auth/signout')) return { headers: { cookie: await w.login(w.owner) }, createdFixtures: true };
        return { headers: cp.as(w.owner) };
      },
      checksum,
      // This control plane runs no tenants (TENANT_PROVISIONER=none) and its orgs have none running: the admin routes
      // that need one answer their documented 503s (README, the admin routes), not a crash.
      allowed5xx: (_route, code) => code === 'PROVISIONER_UNAVAILABLE' || code === 'TENANT_NOT_READY' || code === 'CONSOLE_NOT_BUILT',
    };
  });
  after(() => cp?.close());

  it('fuzzes every route the control plane serves (schemas from its served OpenAPI document)', async (ctx) => {
    const catalog = new Set(cp.app.routeCatalog.map((r) => `${r.method} ${r.url}`));
    assert.deepEqual(new Set(routes.map((r) => `${r.method} ${r.url}`)), catalog);
    assert.deepEqual(
      routes.filter((r) => r.source === 'route-schema').map((r) => `${r.method} ${r.url}`).sort(),
      [...PAGE_ROUTES, ...PUBLIC_PAGE_ROUTES, ...CP_CONSOLE_ROUTES].sort(),
      'only the hidden HTML pages (and the web console’s) are fuzzed from their route schemas',
    );
    const slugs = [w.org.slug, w.outsiderOrg.slug];
    const urls = ['/orgs', `${cp.config.PUBLIC_URL ?? 'http://localhost:8080'}/orgs`];
    for (const route of routes) {
      const deletesOrg = route.method === 'DELETE' && /\/orgs\/:slug$/.test(route.url);
      const known = fromList({
        slug: deletesOrg ? [w.doomedOrg.slug] : slugs,
        org_slug: slugs,
        user_id: [w.member.userId, w.target.userId],
        id: route.url.includes('/invitations/') ? [w.invitation.id] : [w.checkoutSessionId, w.portalSessionId],
        token: w.inviteTokens,
        email: [w.owner.email],
        password: [w.owner.password],
        owner_user_id: [w.outsider.userId],
        return_to: urls,
        success_url: urls,
        cancel_url: urls,
        return_url: urls,
      });
      await ctx.test(`${route.method} ${route.url}`, () => fuzzRoute(target, route, known, FUZZ_RUNS));
    }
  });
});
