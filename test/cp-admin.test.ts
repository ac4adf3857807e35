import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { forEachDatabase } from './harness.js';
import { startTestControlPlane, uniqueSlug, type TestControlPlane } from './cp-harness.js';

forEachDatabase('control plane: CP admin bearer', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind);
  });
  after(() => cp.close());

  const orgCount = async () => Number((await cp.db.selectFrom('organizations').select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

  it('lists orgs as {limit, offset, orgs} with ops-safe rows: member_count and instance_status, no status, no secrets', async () => {
    const owner = await cp.signup();
    const a = await cp.createOrg(owner);
    const b = await cp.createOrg(owner);
    const res = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/orgs?limit=500', headers: cp.admin() });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.limit, 500);
    assert.equal(body.offset, 0);
    const row = body.orgs.find((o: { slug: string }) => o.slug === a.slug);
    assert.deepEqual(Object.keys(row).sort(), ['created_at', 'id', 'instance_status', 'last_error', 'member_count', 'name', 'plan', 'slug', 'updated_at']);
    assert.equal(row.member_count, 1);
    assert.equal(row.instance_status, 'provisioning');
    assert.equal(row.last_error, null);
    assert.ok(body.orgs.some((o: { slug: string }) => o.slug === b.slug));
    assert.equal(/admin_token|"status"/.test(res.body), false);
    // Paging.
    const one = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/orgs?limit=1&offset=1', headers: cp.admin() });
    assert.deepEqual([one.json().limit, one.json().offset, one.json().orgs.length], [1, 1, 1]);
    assert.equal(one.json().orgs[0].id, body.orgs[1].id);
    for (const q of ['limit=0', 'limit=501', 'offset=-1', 'limit=abc']) {
      const bad = await cp.app.inject({ method: 'GET', url: `/api/v1/admin/orgs?${q}`, headers: cp.admin() });
      assert.equal(bad.statusCode, 400, q);
    }
  });

  it('creates an org for an opaque owner (201), skipping terms/quota/billing; a repeat is 409', async () => {
    const slug = uniqueSlug('e2e');
    const res = await cp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/orgs',
      headers: cp.admin(),
      payload: { slug, name: 'CI org', owner_user_id: `e2e-runner:${slug}`, provider: 'molecules-server' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const org = res.json();
    assert.equal(org.slug, slug);
    assert.equal(org.status, 'provisioning');
    assert.equal(org.provider, 'local', 'the reference provider name maps to the local backend');
    assert.equal(org.role, undefined);
    const member = await cp.db.selectFrom('org_members').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
    assert.deepEqual([member.user_id, member.role], [`e2e-runner:${slug}`, 'owner']);
    const again = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload: { slug, name: 'x', owner_user_id: 'u' } });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'SLUG_TAKEN');
    // The audit trail attributes it to the admin bearer.
    const audit = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/audit?path=/api/v1/admin/orgs', headers: cp.admin() });
    const created = audit.json().events.find((e: { method: string; status: number }) => e.method === 'POST' && e.status === 201);
    assert.equal(created.actor, 'cp-admin');
  });

  it('a user id as owner_user_id makes that user the owner: they see the org', async () => {
    const user = await cp.signup();
    const slug = uniqueSlug('for-user');
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload: { slug, name: 'Yours', owner_user_id: user.userId } });
    assert.equal(res.statusCode, 201);
    const list = await cp.app.inject({ method: 'GET', url: '/api/v1/orgs', headers: cp.as(user) });
    assert.deepEqual(list.json().map((o: { slug: string; role: string }) => [o.slug, o.role]), [[slug, 'owner']]);
  });

  it('dry_run=true echoes with 200 and creates nothing; it still checks the slug', async () => {
    const before = await orgCount();
    const slug = uniqueSlug('dry');
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs?dry_run=true', headers: cp.admin(), payload: { slug, name: 'Dry', owner_user_id: 'e2e-runner:dry' } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { dry_run: true, slug, name: 'Dry', owner_user_id: 'e2e-runner:dry', provider: 'local' });
    assert.equal(await orgCount(), before);
    const list = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/orgs?limit=500', headers: cp.admin() });
    assert.equal(list.json().orgs.some((o: { slug: string }) => o.slug === slug), false);
    const reserved = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs?dry_run=true', headers: cp.admin(), payload: { slug: 'api', name: 'x', owner_user_id: 'u' } });
    assert.equal(reserved.statusCode, 409);
  });

  it('strict body: unknown fields are listed, missing fields are named in the reference words; nothing created', async () => {
    const before = await orgCount();
    const missing = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload: {} });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error, 'slug, name, owner_user_id are required');
    assert.deepEqual(missing.json().fields, ['slug', 'name', 'owner_user_id']);
    const noOwner = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload: { slug: uniqueSlug(), name: 'x' } });
    assert.equal(noOwner.statusCode, 400);
    assert.deepEqual(noOwner.json().fields, ['owner_user_id']);
    const unknown = await cp.app.inject({
      method: 'POST',
      url: '/api/v1/admin/orgs',
      headers: cp.admin(),
      payload: { slug: uniqueSlug(), name: 'x', owner_user_id: 'u', is_staging: true },
    });
    assert.equal(unknown.statusCode, 400);
    assert.deepEqual(unknown.json().fields, ['is_staging']);
    assert.match(unknown.json().error, /unknown field "is_staging"/);
    for (const [payload, field] of [
      [{ slug: 'Bad Slug', name: 'x', owner_user_id: 'u' }, 'slug'],
      [{ slug: uniqueSlug(), name: 'x', owner_user_id: '' }, 'owner_user_id'],
      [{ slug: uniqueSlug(), name: 'x', owner_user_id: 'has space' }, 'owner_user_id'],
      [{ slug: uniqueSlug(), name: 'x', owner_user_id: 'u', provider: 'AWS!' }, 'provider'],
      [{ slug: uniqueSlug(), name: ['x'], owner_user_id: 'u' }, 'name'],
    ] as const) {
      const res = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(res.json().fields, [field], res.body);
    }
    const badQuery = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs?dry_run=maybe', headers: cp.admin(), payload: { slug: uniqueSlug(), name: 'x', owner_user_id: 'u' } });
    assert.equal(badQuery.statusCode, 400);
    assert.equal(await orgCount(), before);
  });

  it('the CP audit chain records every admin and session call and verifies; export is NDJSON', async () => {
    const owner = await cp.signup();
    await cp.createOrg(owner);
    const verify = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/audit/verify', headers: cp.admin() });
    assert.equal(verify.statusCode, 200);
    assert.equal(verify.json().ok, true);
    assert.ok(verify.json().count > 3);
    const events = (await cp.app.inject({ method: 'GET', url: `/api/v1/admin/audit?actor=session:${owner.userId}`, headers: cp.admin() })).json().events;
    assert.deepEqual(
      events.map((e: { method: string; route: string; status: number }) => `${e.method} ${e.route} ${e.status}`).reverse(),
      ['POST /api/v1/auth/signup 201', 'POST /api/v1/auth/accept-terms 200', 'POST /api/v1/orgs 201'],
    );
    const exported = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/audit/export', headers: cp.admin() });
    assert.equal(exported.statusCode, 200);
    assert.match(String(exported.headers['content-type']), /application\/x-ndjson/);
    const lines = exported.body.trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
    assert.ok(lines.length >= verify.json().count);
    assert.deepEqual(lines.map((l) => l.seq), [...lines.map((l) => l.seq)].sort((x, y) => x - y));
    // Tampering with one stored row is named by verify.
    const victim = lines[1]!.seq;
    await cp.db.updateTable('audit_events').set({ status: 299 }).where('seq', '=', victim).execute();
    const broken = await cp.app.inject({ method: 'GET', url: '/cp/admin/audit/verify', headers: cp.admin() });
    assert.equal(broken.json().ok, false);
    assert.equal(broken.json().broken_at, victim);
  });
});

forEachDatabase('control plane: admin routes without CP_ADMIN_API_TOKEN', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { CP_ADMIN_API_TOKEN: undefined } });
  });
  after(() => cp.close());

  it('every admin route answers 401, whatever bearer is presented', async () => {
    const admin = cp.app.routeCatalog.filter((r) => r.url.includes('/admin/'));
    assert.ok(admin.length >= 10, 'both prefixes of every admin route');
    for (const route of admin) {
      for (const authorization of [undefined, 'Bearer ', `Bearer ${cp.adminToken}`, 'Bearer undefined', 'Bearer \u0000']) {
        const res = await cp.app.inject({ method: route.method as 'GET', url: route.url, headers: authorization ? { authorization } : {}, payload: {} });
        assert.equal(res.statusCode, 401, `${route.method} ${route.url} with ${authorization}`);
      }
    }
  });
});

forEachDatabase('control plane: failed admin bearer attempts are limited', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { ADMIN_AUTH_FAILURE_LIMIT: '3' } });
  });
  after(() => cp.close());

  it("past the limit a client's wrong bearers get 429 for the window; the right token and other clients are unaffected", async () => {
    const attempt = (bearer: string, remoteAddress = '10.0.0.7') =>
      cp.app.inject({ method: 'GET', url: '/api/v1/admin/orgs', headers: { authorization: `Bearer ${bearer}` }, remoteAddress });
    // Successes and missing credentials do not count.
    assert.equal((await attempt(cp.adminToken)).statusCode, 200);
    assert.equal((await cp.app.inject({ method: 'GET', url: '/api/v1/admin/orgs', remoteAddress: '10.0.0.7' })).statusCode, 401);
    for (let i = 0; i < 3; i++) assert.equal((await attempt(`wrong-${i}-guess-of-the-token`)).statusCode, 401);
    const limited = await attempt('wrong-3-guess-of-the-token');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Issue 7 item 8: others' failures (behind one proxy, one address) must never lock the operator out.
    assert.equal((await attempt(cp.adminToken)).statusCode, 200);
    assert.equal((await attempt('wrong-4-guess-of-the-token')).statusCode, 429);
    assert.equal((await attempt(cp.adminToken, '10.0.0.8')).statusCode, 200);
  });
});
