import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { forEachDatabase } from './harness.js';
import { startTestControlPlane, uniqueSlug, type TestControlPlane } from './cp-harness.js';
import { RecordingProvisioner } from './support/recording-provisioner.js';

const ORG_FIELDS = [
  'id', 'slug', 'name', 'plan', 'status', 'provider', 'is_canary', 'credits_balance', 'plan_monthly_credits',
  'overage_used_credits', 'overage_cap_credits', 'last_error', 'created_at', 'updated_at', 'role',
].sort();

forEachDatabase('control plane: organizations', (kind) => {
  let cp: TestControlPlane;
  const provisioner = new RecordingProvisioner();
  before(async () => {
    cp = await startTestControlPlane(kind, { provisioner, env: { MAX_FREE_ORGS_PER_USER: '2' } });
  });
  after(() => cp.close());

  const count = async (table: 'organizations' | 'org_members' | 'org_instances') =>
    Number((await cp.db.selectFrom(table).select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

  it('creates an org: 201 Organization with credit fields, the caller as owner, handed to the provisioner', async () => {
    const owner = await cp.signup();
    const slug = uniqueSlug('acme');
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug, name: 'Acme Inc' } });
    assert.equal(res.statusCode, 201, res.body);
    const org = res.json();
    assert.deepEqual(Object.keys(org).sort(), ORG_FIELDS);
    assert.match(org.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(org.slug, slug);
    assert.equal(org.name, 'Acme Inc');
    assert.equal(org.plan, 'free');
    assert.equal(org.status, 'provisioning');
    assert.equal(org.role, 'owner');
    assert.equal(org.credits_balance, 500, 'the free plan starts with its trial credits');
    const member = await cp.db.selectFrom('org_members').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
    assert.equal(member.user_id, owner.userId);
    assert.equal(member.role, 'owner');
    assert.deepEqual(provisioner.provisioned.at(-1), { orgId: org.id, slug, provider: 'local' });
    const ledger = await cp.db.selectFrom('credit_ledger').selectAll().where('org_id', '=', org.id).execute();
    assert.deepEqual(ledger.map((e) => [Number(e.delta), Number(e.balance_after), e.reason]), [[500, 500, 'starting_credits']]);
  });

  it('412 before the terms are accepted, 409 for a taken or reserved slug, 400 for a bad slug — nothing created', async () => {
    const fresh = await cp.signup({ acceptTerms: false });
    const before = [await count('organizations'), await count('org_members'), await count('org_instances')];
    const terms = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(fresh), payload: { slug: uniqueSlug(), name: 'x' } });
    assert.equal(terms.statusCode, 412);
    assert.equal(terms.json().code, 'TERMS_NOT_ACCEPTED');

    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const created = [await count('organizations'), await count('org_members'), await count('org_instances')];
    assert.deepEqual(created, before.map((n) => n + 1));
    const taken = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: org.slug, name: 'again' } });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json().code, 'SLUG_TAKEN');
    for (const reserved of ['api', 'www', 'admin', 'app', 'billing', 'status', 'docs', 'dashboard']) {
      const res = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: reserved, name: 'x' } });
      assert.equal(res.statusCode, 409, reserved);
      assert.equal(res.json().reserved, true);
    }
    for (const slug of ['Ab', 'ab', '1abc', 'abc_def', 'a'.repeat(33), '-abc', 'ABC']) {
      const res = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug, name: 'x' } });
      assert.equal(res.statusCode, 400, slug);
      assert.equal(res.json().field, 'slug');
    }
    for (const [payload, field] of [
      [{ slug: uniqueSlug() }, 'name'],
      [{ slug: uniqueSlug(), name: '' }, 'name'],
      [{ slug: uniqueSlug(), name: '   ' }, 'name'],
      [{ slug: uniqueSlug(), name: '\u3000\u00a0' }, 'name'],
      // One control character used to slip through where the old pattern's `\S` sat.
      [{ slug: uniqueSlug(), name: 'Acme\u0000' }, 'name'],
      [{ slug: uniqueSlug(), name: 'Acme\tCorp' }, 'name'],
      [{ slug: uniqueSlug(), name: 'n'.repeat(101) }, 'name'],
      [{ slug: uniqueSlug(), name: 'x', plan: 'enterprise' }, 'plan'],
      [{ slug: uniqueSlug(), name: 'x', is_canary: true }, 'is_canary'],
      [{ slug: 42, name: 'x' }, 'slug'],
    ] as const) {
      const res = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.ok(res.json().fields.includes(field), `${JSON.stringify(payload)}: ${res.body}`);
    }
    assert.deepEqual([await count('organizations'), await count('org_members'), await count('org_instances')], created);
  });

  it('402 once a user owns the free-org quota; a paid plan still works and waits for payment', async () => {
    const owner = await cp.signup();
    await cp.createOrg(owner);
    await cp.createOrg(owner);
    const over = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: uniqueSlug(), name: 'third' } });
    assert.equal(over.statusCode, 402);
    assert.equal(over.json().code, 'PAYMENT_REQUIRED');
    assert.equal(over.json().quota, 2);
    const paid = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: uniqueSlug(), name: 'paid', plan: 'pro' } });
    assert.equal(paid.statusCode, 201);
    assert.equal(paid.json().status, 'awaiting_payment');
    assert.equal(provisioner.provisioned.some((r) => r.orgId === paid.json().id), false, 'not provisioned before payment');
    const status = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${paid.json().slug}/provision-status`, headers: cp.as(owner) });
    assert.deepEqual(status.json(), {
      status: 'provisioning',
      stage: 'launching',
      progress: 0,
      message: 'awaiting payment: complete checkout to start provisioning',
      eta_seconds: 240,
    });
  });

  it('lists the caller’s orgs as a bare array; get is for members; others get 404', async () => {
    const a = await cp.signup();
    const b = await cp.signup();
    const orgA = await cp.createOrg(a);
    const orgB = await cp.createOrg(b);
    const list = await cp.app.inject({ method: 'GET', url: '/api/v1/orgs', headers: cp.as(a) });
    assert.equal(list.statusCode, 200);
    assert.ok(Array.isArray(list.json()));
    assert.deepEqual(list.json().map((o: { slug: string }) => o.slug), [orgA.slug]);
    const get = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${orgA.slug}`, headers: cp.as(a) });
    assert.equal(get.statusCode, 200);
    assert.deepEqual(get.json(), list.json()[0]);
    for (const url of [`/api/v1/orgs/${orgB.slug}`, `/api/v1/orgs/${orgB.slug}/export`, `/api/v1/orgs/${orgB.slug}/provision-status`, '/api/v1/orgs/no-such-org']) {
      const res = await cp.app.inject({ method: 'GET', url, headers: cp.as(a) });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().code, 'ORG_NOT_FOUND');
    }
    const del = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${orgB.slug}`, headers: cp.as(a) });
    assert.equal(del.statusCode, 404);
    assert.ok(await cp.db.selectFrom('organizations').select('id').where('id', '=', orgB.id).executeTakeFirst(), 'untouched');
  });

  it('exports what the CP holds (members, ledger, instance) and no secret of any kind', async () => {
    const owner = await cp.signup({ name: 'Owner' });
    const org = await cp.createOrg(owner);
    const res = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}/export`, headers: cp.as(owner) });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.schema_version, 1);
    assert.equal(body.exported_by, owner.userId);
    assert.deepEqual(body.subject, { user_id: owner.userId });
    assert.equal(body.organization.slug, org.slug);
    assert.deepEqual(body.members.map((m: { user_id: string; role: string; email: string }) => [m.user_id, m.role, m.email]), [[owner.userId, 'owner', owner.email]]);
    assert.equal(body.infrastructure.instance_status, 'provisioning');
    assert.equal(body.billing.ledger.length, 1);
    assert.ok(!Number.isNaN(Date.parse(body.exported_at)));
    const text = res.body;
    for (const forbidden of ['"password', 'scrypt$', 'token_hash', 'admin_token', owner.cookie.split('=')[1]!, 'mols_', owner.password]) {
      assert.equal(text.includes(forbidden), false, forbidden);
    }
  });

  it('provision-status: a queued org reports launching with progress that never goes backwards', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const read = async () => (await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}/provision-status`, headers: cp.as(owner) })).json();
    const first = await read();
    assert.equal(first.status, 'provisioning');
    assert.equal(first.stage, 'launching');
    assert.equal(first.progress, 0);
    assert.match(first.message, /recording/);
    assert.equal(first.eta_seconds, 240);
    // A provisioner moving forward is reflected; the stored progress is what the endpoint reports.
    await cp.db.updateTable('org_instances').set({ stage: 'starting', progress: 60, eta_seconds: 90, message: 'starting the tenant' }).where('org_id', '=', org.id).execute();
    const second = await read();
    assert.deepEqual([second.stage, second.progress, second.eta_seconds], ['starting', 60, 90]);
    await cp.db.updateTable('org_instances').set({ status: 'running', url: `http://${org.slug}.localhost:8080` }).where('org_id', '=', org.id).execute();
    assert.deepEqual(await read(), { status: 'running', stage: 'ready', progress: 100, message: 'ready', eta_seconds: 0, url: `http://${org.slug}.localhost:8080` });
  });

  it('a provisioner that refuses marks the org failed with the reason', async () => {
    const owner = await cp.signup();
    provisioner.refuse = 'no capacity in this region';
    try {
      const res = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: uniqueSlug(), name: 'x' } });
      assert.equal(res.statusCode, 201);
      const status = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${res.json().slug}/provision-status`, headers: cp.as(owner) });
      assert.deepEqual(status.json(), { status: 'failed', stage: 'failed', progress: 0, message: 'no capacity in this region', eta_seconds: 0 });
      const get = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${res.json().slug}`, headers: cp.as(owner) });
      assert.equal(get.json().status, 'failed');
      assert.equal(get.json().last_error, 'no capacity in this region');
    } finally {
      provisioner.refuse = null;
    }
  });

  it('the public instance lookup needs no auth, never shows a token, and 404s unknown slugs', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const res = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}/instance` });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { slug: org.slug, org_id: org.id, status: 'provisioning', instance_status: 'provisioning', url: null, ip: null, region: null });
    assert.equal(/token|mol[a-z_]*_/.test(res.body), false);
    const unknown = await cp.app.inject({ method: 'GET', url: '/api/v1/orgs/does-not-exist/instance' });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'ORG_NOT_FOUND');
  });

  it('delete: owners only (204), then 404 everywhere; the tenant is deprovisioned and a purge record kept', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const res = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.equal((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) })).statusCode, 404);
    assert.equal((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}/instance` })).statusCode, 404);
    assert.equal((await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) })).statusCode, 404);
    assert.deepEqual(provisioner.deprovisioned.at(-1), { orgId: org.id, slug: org.slug, provider: 'local' });
    for (const table of ['org_members', 'org_instances', 'credit_ledger'] as const) {
      assert.equal((await cp.db.selectFrom(table).select('org_id').where('org_id', '=', org.id).execute()).length, 0, table);
    }
    const purge = await cp.db.selectFrom('org_purges').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
    assert.equal(purge.slug, org.slug);
    assert.equal(purge.purged_by, `session:${owner.userId}`);
  });

  it('a purged slug is tombstoned for SLUG_TOMBSTONE_DAYS on both create routes (409 naming why), then free again', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const del = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) });
    assert.equal(del.statusCode, 204, del.body);
    const before = await count('organizations');
    const attempts = [
      await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: org.slug, name: 'reborn' } }),
      await cp.app.inject({ method: 'POST', url: '/cp/orgs', headers: cp.as(await cp.signup()), payload: { slug: org.slug, name: 'squatter' } }),
      await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload: { slug: org.slug, name: 'admin', owner_user_id: 'u' } }),
      await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs?dry_run=true', headers: cp.admin(), payload: { slug: org.slug, name: 'dry', owner_user_id: 'u' } }),
    ];
    const purge = await cp.db.selectFrom('org_purges').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
    const availableAt = new Date(new Date(purge.purged_at).getTime() + 30 * 86_400_000).toISOString();
    for (const res of attempts) {
      assert.equal(res.statusCode, 409, res.body);
      const body = res.json();
      assert.equal(body.code, 'SLUG_TAKEN');
      assert.equal(body.field, 'slug');
      assert.equal(body.reason, 'recently_deleted');
      assert.equal(body.available_at, availableAt);
      assert.match(body.error, new RegExp(`slug "${org.slug}" belonged to an org deleted .*; it can be reused from ${availableAt}`));
    }
    assert.equal(await count('organizations'), before, 'nothing created');
    // Still inside the period a day before it ends; free once it has passed.
    const age = async (days: number) =>
      cp.db.updateTable('org_purges').set({ purged_at: new Date(Date.now() - days * 86_400_000) }).where('org_id', '=', org.id).execute();
    await age(29);
    const early = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: org.slug, name: 'early' } });
    assert.equal(early.statusCode, 409, early.body);
    assert.equal(early.json().reason, 'recently_deleted');
    await age(31);
    const again = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: org.slug, name: 'reborn' } });
    assert.equal(again.statusCode, 201, again.body);
    assert.notEqual(again.json().id, org.id, 'a new org under the old slug');
  });

  it('delete stops the tenant first; if that fails the delete fails (503) and the org and its slug stay', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const seen: Array<{ orgStillThere: boolean; purged: boolean }> = [];
    provisioner.whileDeprovisioning = async (r) => {
      const row = await cp.db.selectFrom('organizations').select('id').where('id', '=', r.orgId).executeTakeFirst();
      const purge = await cp.db.selectFrom('org_purges').select('id').where('org_id', '=', r.orgId).executeTakeFirst();
      seen.push({ orgStillThere: row !== undefined, purged: purge !== undefined });
    };
    provisioner.refuseDeprovision = 'tenant process did not exit';
    try {
      const failed = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) });
      assert.equal(failed.statusCode, 503, failed.body);
      assert.equal(failed.json().code, 'TENANT_DEPROVISION_FAILED');
      assert.match(failed.json().error, /tenant could not be stopped; nothing was deleted — the org and its slug are kept/);
      assert.equal(failed.body.includes('tenant process did not exit'), false, 'the provisioner’s own error stays in the log');
      // The org, its members and its slug are all still there; no tombstone was written.
      const get = await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) });
      assert.equal(get.statusCode, 200, get.body);
      assert.equal(get.json().id, org.id);
      assert.equal((await cp.db.selectFrom('org_purges').select('id').where('org_id', '=', org.id).execute()).length, 0);
      const taken = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(await cp.signup()), payload: { slug: org.slug, name: 'squat' } });
      assert.equal(taken.statusCode, 409);
      assert.equal(taken.json().reason, undefined, 'taken by the live org, not tombstoned');

      provisioner.refuseDeprovision = null;
      const ok = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) });
      assert.equal(ok.statusCode, 204, ok.body);
      // Both attempts reached the provisioner while the org row still existed and before any purge record.
      assert.deepEqual(seen, [{ orgStillThere: true, purged: false }, { orgStillThere: true, purged: false }]);
      assert.equal((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) })).statusCode, 404);
    } finally {
      provisioner.refuseDeprovision = null;
      provisioner.whileDeprovisioning = null;
    }
  });
});

forEachDatabase('control plane: the /cp alias', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind);
  });
  after(() => cp.close());

  it('serves identical bodies; only /cp carries Deprecation, Sunset and a successor Link', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    for (const path of ['/orgs', `/orgs/${org.slug}`, `/orgs/${org.slug}/provision-status`, '/auth/me']) {
      const modern = await cp.app.inject({ method: 'GET', url: `/api/v1${path}`, headers: cp.as(owner) });
      const legacy = await cp.app.inject({ method: 'GET', url: `/cp${path}`, headers: cp.as(owner) });
      assert.equal(modern.statusCode, 200, path);
      assert.equal(legacy.statusCode, 200, path);
      assert.equal(legacy.body, modern.body, path);
      assert.equal(modern.headers['deprecation'], undefined);
      assert.equal(modern.headers['sunset'], undefined);
      assert.equal(modern.headers['link'], undefined);
      assert.equal(legacy.headers['deprecation'], '@1793491200');
      assert.equal(legacy.headers['sunset'], 'Mon, 01 Nov 2027 00:00:00 GMT');
      assert.equal(legacy.headers['link'], `</api/v1${path}>; rel="successor-version"`);
    }
    // Errors on the alias are deprecated too, and a query string is not copied into the Link.
    const denied = await cp.app.inject({ method: 'GET', url: '/cp/orgs?x=1' });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.headers['link'], '</api/v1/orgs>; rel="successor-version"');
  });

  it('creates through the alias exactly as through /api/v1', async () => {
    const owner = await cp.signup();
    const slug = uniqueSlug('alias');
    const res = await cp.app.inject({ method: 'POST', url: '/cp/orgs', headers: cp.as(owner), payload: { slug, name: 'Via alias' } });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().slug, slug);
    const list = await cp.app.inject({ method: 'GET', url: '/api/v1/orgs', headers: cp.as(owner) });
    assert.deepEqual(list.json().map((o: { slug: string }) => o.slug), [slug]);
  });

  it('GET /health is the reference body, unprefixed and unauthenticated', async () => {
    const res = await cp.app.inject({ method: 'GET', url: '/health' });
    assert.deepEqual(res.json(), { service: 'molecule-cp', status: 'ok' });
  });
});

forEachDatabase('control plane: instance lookups are rate-limited', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { INSTANCE_LOOKUP_LIMIT: '5' } });
  });
  after(() => cp.close());

  it('a burst of lookups for random slugs ends in 429 with Retry-After, known slugs included', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${uniqueSlug('probe')}/instance` })).statusCode);
    assert.deepEqual(statuses, [404, 404, 404, 404, 404]);
    const limited = await cp.app.inject({ method: 'GET', url: `/cp/orgs/${org.slug}/instance` });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(limited.json().code, 'RATE_LIMITED');
  });
});
