import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { RecordingProvisioner } from './support/recording-provisioner.js';
import type { MemberRole } from '../src/control-plane/db/schema.js';
import { forEachDatabase } from './harness.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';

const SITE = 'https://cp.example.test';
const TENANT_DOMAIN = 'example.test';
const FORM = 'application/x-www-form-urlencoded';
const SESSION_ID = /^bs_[0-9A-HJKMNP-TV-Z]{26}$/;

forEachDatabase('control plane: billing on the self-hosted ledger', (kind) => {
  let cp: TestControlPlane;
  const provisioner = new RecordingProvisioner();

  before(async () => {
    cp = await startTestControlPlane(kind, { env: { PUBLIC_URL: SITE, TENANT_DOMAIN }, provisioner });
  });
  after(() => cp.close());

  // ---- helpers -------------------------------------------------------------------------------------------

  const post = (url: string, user: TestUser | null, payload: unknown = {}) =>
    cp.app.inject({ method: 'POST', url, headers: user ? cp.as(user) : {}, payload: payload as Record<string, unknown> });
  const get = (url: string, user: TestUser | null) => cp.app.inject({ method: 'GET', url, headers: user ? cp.as(user) : {} });
  /** A form post from one of our pages (the browser sends our Origin). */
  const form = (url: string, user: TestUser | null, fields: string, origin: string | null = SITE) =>
    cp.app.inject({
      method: 'POST',
      url,
      headers: { ...(user ? cp.as(user) : {}), 'content-type': FORM, ...(origin ? { origin } : {}) },
      payload: fields,
    });

  async function addMember(org: TestOrg, user: TestUser, role: MemberRole, invitedBy: TestUser) {
    await cp.db.insertInto('org_members').values({ org_id: org.id, user_id: user.userId, role, invited_by: invitedBy.userId }).execute();
  }

  async function orgRow(orgId: string) {
    return cp.db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirstOrThrow();
  }

  async function ledgerOf(orgId: string) {
    const rows = await cp.db.selectFrom('credit_ledger').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ delta: Number(r.delta), balance_after: Number(r.balance_after), reason: r.reason, reference: r.reference, created_by: r.created_by }));
  }

  async function invoiceCount(orgId: string) {
    const row = await cp.db.selectFrom('invoices').select(cp.db.fn.countAll<string>().as('n')).where('org_id', '=', orgId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Everything billing can change for an org: compared before and after requests that must change nothing. */
  async function snapshot(orgId: string) {
    const sessions = await cp.db.selectFrom('billing_sessions').select(['id', 'status', 'completed_at']).where('org_id', '=', orgId).orderBy('id').execute();
    return { org: await orgRow(orgId), ledger: await ledgerOf(orgId), invoices: await invoiceCount(orgId), sessions };
  }

  /** The invariant: the balance on the org row is the sum of its ledger. */
  async function assertBalanced(orgId: string) {
    const org = await orgRow(orgId);
    const sum = (await ledgerOf(orgId)).reduce((s, e) => s + e.delta, 0);
    assert.equal(Number(org.credits_balance), sum, 'credits_balance equals the sum of the ledger');
  }

  async function checkout(owner: TestUser, org: TestOrg, plan: string, urls = { success_url: '/orgs/done', cancel_url: '/orgs/cancelled' }) {
    const res = await post('/api/v1/billing/checkout', owner, { org_slug: org.slug, plan, ...urls });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { url: string; id: string };
  }

  async function confirm(owner: TestUser, id: string) {
    const res = await post(`/api/v1/billing/sessions/${id}/confirm`, owner);
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }

  async function auditRows(path: string) {
    return cp.db.selectFrom('audit_events').select(['actor', 'method', 'route', 'path', 'status']).where('path', '=', path).orderBy('seq').execute();
  }

  // ---- catalogue -----------------------------------------------------------------------------------------

  it('GET /billing/plans is public: the catalogue, cheapest first', async () => {
    const res = await get('/api/v1/billing/plans', null);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), [
      { id: 'free', label: 'Free', price_cents: 0, currency: 'usd', interval: 'month', max_workspaces: 3, monthly_credits: 0, starting_credits: 500, overage_cap_credits: 0 },
      { id: 'starter', label: 'Team', price_cents: 2900, currency: 'usd', interval: 'month', max_workspaces: 10, monthly_credits: 5000, starting_credits: 0, overage_cap_credits: 0 },
      { id: 'pro', label: 'Growth', price_cents: 9900, currency: 'usd', interval: 'month', max_workspaces: null, monthly_credits: 25000, starting_credits: 0, overage_cap_credits: 10000 },
    ]);
  });

  // ---- checkout ------------------------------------------------------------------------------------------

  it('free org → checkout starter → owner confirms: plan, credits, ledger and a paid invoice change together, and GET /orgs/:slug shows it', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    assert.equal(org.plan, 'free');
    assert.equal(org.credits_balance, 500);
    const provisionedBefore = provisioner.provisioned.filter((r) => r.orgId === org.id).length;

    const started = await post('/api/v1/billing/checkout', owner, {
      org_slug: org.slug,
      plan: 'starter',
      success_url: '/orgs/done?ok=1',
      cancel_url: `https://${org.slug}.${TENANT_DOMAIN}/billing`,
    });
    assert.equal(started.statusCode, 200, started.body);
    const { url, id } = started.json();
    assert.match(id, SESSION_ID);
    assert.deepEqual(started.json(), { url: `${SITE}/billing/confirm/${id}`, id });
    // Starting a checkout changes nothing about the org.
    assert.equal((await orgRow(org.id)).plan, 'free');

    const session = await get(`/api/v1/billing/sessions/${id}`, owner);
    assert.equal(session.statusCode, 200);
    const body = session.json();
    const expiresIn = Date.parse(body.expires_at) - Date.parse(body.created_at);
    assert.ok(Math.abs(expiresIn - 3_600_000) < 1000, `expires an hour after creation (${expiresIn} ms)`);
    assert.deepEqual(body, {
      id,
      kind: 'checkout',
      org_slug: org.slug,
      plan: 'starter',
      credits: 5000,
      amount_cents: 2900,
      currency: 'usd',
      status: 'pending',
      created_at: body.created_at,
      expires_at: body.expires_at,
      completed_at: null,
    });

    const done = await confirm(owner, id);
    assert.equal(done.status, 'completed');
    assert.equal(done.redirect_url, `${SITE}/orgs/done?ok=1`);
    assert.equal(done.organization.slug, org.slug);
    assert.equal(done.organization.plan, 'starter');
    assert.equal(done.organization.status, 'provisioning');
    assert.equal(done.organization.credits_balance, 5500);
    assert.equal(done.organization.plan_monthly_credits, 5000);
    assert.equal(done.organization.overage_cap_credits, 0);
    assert.equal(done.organization.role, 'owner');

    const shown = await get(`/api/v1/orgs/${org.slug}`, owner);
    assert.equal(shown.statusCode, 200);
    assert.equal(shown.json().plan, 'starter');
    assert.equal(shown.json().credits_balance, 5500);
    assert.equal(shown.json().plan_monthly_credits, 5000);

    assert.deepEqual(await ledgerOf(org.id), [
      { delta: 500, balance_after: 500, reason: 'starting_credits', reference: null, created_by: `session:${owner.userId}` },
      { delta: 5000, balance_after: 5500, reason: 'plan_grant:starter', reference: id, created_by: `session:${owner.userId}` },
    ]);
    await assertBalanced(org.id);

    const invoices = await get(`/api/v1/billing/invoices?org_slug=${org.slug}`, owner);
    assert.equal(invoices.statusCode, 200);
    const [invoice, ...rest] = invoices.json();
    assert.equal(rest.length, 0);
    assert.match(invoice.id, /^in_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual(invoice, {
      id: invoice.id,
      org_slug: org.slug,
      number: `${org.slug.toUpperCase()}-0001`,
      description: 'Team plan (starter), 1 month',
      amount_cents: 2900,
      currency: 'usd',
      status: 'paid',
      lines: [{ description: 'Team plan (starter), 1 month', quantity: 1, amount_cents: 2900 }],
      created_at: invoice.created_at,
      paid_at: invoice.paid_at,
    });
    assert.ok(Date.parse(invoice.paid_at) > 0);

    const after = await get(`/api/v1/billing/sessions/${id}`, owner);
    assert.equal(after.json().status, 'completed');
    assert.ok(Date.parse(after.json().completed_at) > 0);

    // The confirmation wrote its audit event in its own transaction; an org already provisioning is not provisioned again.
    assert.deepEqual(await auditRows(`/api/v1/billing/sessions/${id}/confirm`), [
      { actor: `session:${owner.userId}`, method: 'POST', route: '/api/v1/billing/sessions/:id/confirm', path: `/api/v1/billing/sessions/${id}/confirm`, status: 200 },
    ]);
    assert.equal(provisioner.provisioned.filter((r) => r.orgId === org.id).length, provisionedBefore);
    assert.equal(url, `${SITE}/billing/confirm/${id}`);
  });

  it('an org created on a paid plan waits in awaiting_payment; checkout + confirm moves it to provisioning and starts its tenant', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner, { plan: 'pro' });
    assert.equal(org.status, 'awaiting_payment');
    assert.equal(org.plan, 'free');
    assert.equal(org.credits_balance, 0);
    assert.equal(provisioner.provisioned.some((r) => r.orgId === org.id), false);
    const waiting = await get(`/api/v1/orgs/${org.slug}/provision-status`, owner);
    assert.match(waiting.json().message, /awaiting payment/);

    const { id } = await checkout(owner, org, 'pro');
    const done = await confirm(owner, id);
    assert.equal(done.organization.status, 'provisioning');
    assert.equal(done.organization.plan, 'pro');
    assert.equal(done.organization.credits_balance, 25000);
    assert.equal(done.organization.plan_monthly_credits, 25000);
    assert.equal(done.organization.overage_cap_credits, 10000);

    assert.deepEqual(provisioner.provisioned.filter((r) => r.orgId === org.id), [{ orgId: org.id, slug: org.slug, provider: 'local' }]);
    const instance = await cp.db.selectFrom('org_instances').selectAll().where('org_id', '=', org.id).executeTakeFirst();
    assert.equal(instance?.status, 'provisioning');
    const status = await get(`/api/v1/orgs/${org.slug}/provision-status`, owner);
    assert.equal(status.statusCode, 200);
    assert.equal(status.json().status, 'provisioning');
    assert.equal(status.json().stage, 'launching');
    assert.doesNotMatch(status.json().message, /awaiting payment/);
    await assertBalanced(org.id);
  });

  it('checking out the plan the org already has is 409 PLAN_UNCHANGED and opens nothing', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    await confirm(owner, (await checkout(owner, org, 'starter')).id);
    const before = await snapshot(org.id);
    const res = await post('/api/v1/billing/checkout', owner, { org_slug: org.slug, plan: 'starter', success_url: '/a', cancel_url: '/b' });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'PLAN_UNCHANGED');
    assert.equal(res.json().error, `org "${org.slug}" is already on the Team plan (starter); choose another plan`);
    assert.deepEqual(await snapshot(org.id), before);

    // Two checkouts opened for the same plan: the second to be confirmed is refused and changes nothing.
    const a = await checkout(owner, org, 'pro');
    const b = await checkout(owner, org, 'pro');
    await confirm(owner, a.id);
    const mid = await snapshot(org.id);
    const again = await post(`/api/v1/billing/sessions/${b.id}/confirm`, owner);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'PLAN_UNCHANGED');
    assert.deepEqual(await snapshot(org.id), mid);
  });

  // ---- top-up --------------------------------------------------------------------------------------------

  it('a top-up adds exactly the credits bought, with one ledger entry and a paid invoice', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const started = await post('/api/v1/billing/topup', owner, { org_slug: org.slug, credits: 12345 });
    assert.equal(started.statusCode, 200, started.body);
    const { id, url } = started.json();
    assert.match(id, SESSION_ID);
    assert.equal(url, `${SITE}/billing/confirm/${id}`);
    const session = (await get(`/api/v1/billing/sessions/${id}`, owner)).json();
    assert.equal(session.kind, 'topup');
    assert.equal(session.plan, null);
    assert.equal(session.credits, 12345);
    assert.equal(session.amount_cents, 12345);

    const done = await confirm(owner, id);
    assert.equal(done.redirect_url, null);
    assert.equal(done.organization.credits_balance, 500 + 12345);
    assert.equal(done.organization.plan, 'free');
    const ledger = await ledgerOf(org.id);
    assert.deepEqual(ledger.at(-1), { delta: 12345, balance_after: 12845, reason: 'topup', reference: id, created_by: `session:${owner.userId}` });
    assert.equal(ledger.length, 2);
    await assertBalanced(org.id);

    const [invoice] = (await get(`/api/v1/billing/invoices?org_slug=${org.slug}`, owner)).json();
    assert.equal(invoice.amount_cents, 12345);
    assert.equal(invoice.status, 'paid');
    assert.equal(invoice.description, 'Credit top-up: 12,345 credits');
    assert.deepEqual(invoice.lines, [{ description: '12,345 credits', quantity: 12345, amount_cents: 12345 }]);
  });

  it('concurrent confirmations of one session apply it once; the rest get 409', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const { id } = (await post('/api/v1/billing/topup', owner, { org_slug: org.slug, credits: 1000 })).json();
    const results = await Promise.all(Array.from({ length: 5 }, () => post(`/api/v1/billing/sessions/${id}/confirm`, owner)));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.statusCode === 409)) assert.equal(r.json().code, 'BILLING_SESSION_CLOSED');
    assert.equal((await orgRow(org.id)).credits_balance, 1500);
    assert.equal((await ledgerOf(org.id)).filter((e) => e.reason === 'topup').length, 1);
    assert.equal(await invoiceCount(org.id), 1);
    await assertBalanced(org.id);
  });

  // ---- closing -------------------------------------------------------------------------------------------

  it('cancel changes nothing; a cancelled or completed session cannot be confirmed or cancelled again (409)', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const { id } = await checkout(owner, org, 'pro', { success_url: '/ok', cancel_url: `https://${org.slug}.${TENANT_DOMAIN}/billing?c=1` });
    const before = await snapshot(org.id);
    const cancelled = await post(`/api/v1/billing/sessions/${id}/cancel`, owner);
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    assert.equal(cancelled.json().status, 'cancelled');
    assert.equal(cancelled.json().redirect_url, `https://${org.slug}.${TENANT_DOMAIN}/billing?c=1`);
    assert.equal(cancelled.json().organization.plan, 'free');
    const afterCancel = await snapshot(org.id);
    assert.deepEqual(afterCancel.org, before.org);
    assert.deepEqual(afterCancel.ledger, before.ledger);
    assert.equal(afterCancel.invoices, before.invoices);
    assert.deepEqual(afterCancel.sessions.map((s) => s.status), ['cancelled']);

    for (const action of ['confirm', 'cancel']) {
      const res = await post(`/api/v1/billing/sessions/${id}/${action}`, owner);
      assert.equal(res.statusCode, 409, action);
      assert.equal(res.json().code, 'BILLING_SESSION_CLOSED');
      assert.equal(res.json().error, `billing session ${id} is cancelled; start a new one`);
    }
    assert.deepEqual(await snapshot(org.id), afterCancel);

    const second = await checkout(owner, org, 'starter');
    await confirm(owner, second.id);
    const afterConfirm = await snapshot(org.id);
    const twice = await post(`/api/v1/billing/sessions/${second.id}/confirm`, owner);
    assert.equal(twice.statusCode, 409);
    assert.equal(twice.json().code, 'BILLING_SESSION_CLOSED');
    assert.equal(twice.json().status, 'completed');
    assert.deepEqual(await snapshot(org.id), afterConfirm);
    assert.equal(afterConfirm.invoices, 1);
  });

  it('an expired session answers 409, is recorded as expired and changes nothing', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const { id } = await checkout(owner, org, 'starter');
    await cp.db.updateTable('billing_sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', id).execute();
    const shown = await get(`/api/v1/billing/sessions/${id}`, owner);
    assert.equal(shown.json().status, 'expired');
    const before = await snapshot(org.id);
    const res = await post(`/api/v1/billing/sessions/${id}/confirm`, owner);
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'BILLING_SESSION_CLOSED');
    assert.equal(res.json().status, 'expired');
    const after = await snapshot(org.id);
    assert.deepEqual(after.org, before.org);
    assert.deepEqual(after.ledger, before.ledger);
    assert.equal(after.invoices, before.invoices);
    const stored = await cp.db.selectFrom('billing_sessions').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(stored.status, 'expired');
    // The page says so and offers no form.
    const page = await get(`/billing/confirm/${id}`, owner);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /This billing session is expired/);
    assert.doesNotMatch(page.body, /<form/);
    const formPost = await form(`/billing/confirm/${id}`, owner, 'decision=confirm');
    assert.equal(formPost.statusCode, 409);
    assert.equal((await orgRow(org.id)).plan, 'free');
  });

  // ---- roles ---------------------------------------------------------------------------------------------

  it('roles: members may look but not start or confirm; admins start but cannot confirm; non-members get 404 on every route', async () => {
    const owner = await cp.signup();
    const admin = await cp.signup();
    const member = await cp.signup();
    const stranger = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, admin, 'admin', owner);
    await addMember(org, member, 'member', owner);
    const { id } = await checkout(owner, org, 'starter');
    const { id: portalId } = (await post('/api/v1/billing/portal', owner, { org_slug: org.slug, return_url: '/orgs' })).json();
    const before = await snapshot(org.id);

    const checkoutBody = { org_slug: org.slug, plan: 'pro', success_url: '/a', cancel_url: '/b' };
    const starts: Array<[string, Record<string, unknown>]> = [
      ['/api/v1/billing/checkout', checkoutBody],
      ['/api/v1/billing/portal', { org_slug: org.slug, return_url: '/a' }],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 100 }],
    ];
    for (const [url, payload] of starts) {
      const m = await post(url, member, payload);
      assert.equal(m.statusCode, 403, url);
      assert.equal(m.json().code, 'ROLE_FORBIDDEN');
      assert.equal(m.json().role, 'member');
      const s = await post(url, stranger, payload);
      assert.equal(s.statusCode, 404, url);
      assert.equal(s.json().code, 'ORG_NOT_FOUND');
    }
    const mInvoices = await get(`/api/v1/billing/invoices?org_slug=${org.slug}`, member);
    assert.equal(mInvoices.statusCode, 403);
    assert.equal(mInvoices.json().code, 'ROLE_FORBIDDEN');
    const sInvoices = await get(`/api/v1/billing/invoices?org_slug=${org.slug}`, stranger);
    assert.equal(sInvoices.statusCode, 404);
    assert.equal(sInvoices.json().code, 'ORG_NOT_FOUND');
    assert.deepEqual((await get('/api/v1/billing/invoices', member)).json(), []);

    for (const action of ['confirm', 'cancel']) {
      for (const [who, role] of [[member, 'member'], [admin, 'admin']] as const) {
        const res = await post(`/api/v1/billing/sessions/${id}/${action}`, who);
        assert.equal(res.statusCode, 403, `${role} ${action}`);
        assert.equal(res.json().code, 'ROLE_FORBIDDEN');
        assert.equal(res.json().error, `only an org owner can ${action} billing changes; your role is ${role}`);
      }
      const s = await post(`/api/v1/billing/sessions/${id}/${action}`, stranger);
      assert.equal(s.statusCode, 404);
      assert.equal(s.json().code, 'BILLING_SESSION_NOT_FOUND');
    }
    for (const who of [owner, admin, member]) {
      const res = await get(`/api/v1/billing/sessions/${id}`, who);
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().status, 'pending');
    }
    const sGet = await get(`/api/v1/billing/sessions/${id}`, stranger);
    assert.equal(sGet.statusCode, 404);
    assert.equal(sGet.json().code, 'BILLING_SESSION_NOT_FOUND');
    const unknown = await get('/api/v1/billing/sessions/bs_01HZZZZZZZZZZZZZZZZZZZZZZZ', owner);
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'BILLING_SESSION_NOT_FOUND');
    const malformed = await get('/api/v1/billing/sessions/nope', owner);
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().field, 'id');

    // Pages: a stranger sees "not found"; a member cannot open the portal.
    for (const url of [`/billing/confirm/${id}`, `/billing/portal/${portalId}`]) {
      const page = await get(url, stranger);
      assert.equal(page.statusCode, 404, url);
      assert.match(String(page.headers['content-type']), /^text\/html/);
    }
    assert.equal((await form(`/billing/confirm/${id}`, stranger, 'decision=confirm')).statusCode, 404);
    assert.equal((await form(`/billing/portal/${portalId}`, stranger, 'plan=pro')).statusCode, 404);
    const memberPortal = await get(`/billing/portal/${portalId}`, member);
    assert.equal(memberPortal.statusCode, 403);
    assert.match(memberPortal.body, /only an org admin or owner can open the billing portal; your role is member/);
    assert.equal((await form(`/billing/confirm/${id}`, admin, 'decision=confirm')).statusCode, 403);
    assert.deepEqual(await snapshot(org.id), before);

    // No session cookie at all: 401 on every session route.
    assert.equal((await post('/api/v1/billing/checkout', null, checkoutBody)).statusCode, 401);
    assert.equal((await get(`/api/v1/billing/sessions/${id}`, null)).statusCode, 401);
    assert.equal((await get('/api/v1/billing/invoices', null)).statusCode, 401);

    // The admin may start a checkout (an owner then confirms it).
    const byAdmin = await post('/api/v1/billing/checkout', admin, { org_slug: org.slug, plan: 'pro', success_url: '/a', cancel_url: '/b' });
    assert.equal(byAdmin.statusCode, 200);
    assert.equal((await get(`/api/v1/billing/invoices?org_slug=${org.slug}`, admin)).statusCode, 200);
    const done = await confirm(owner, byAdmin.json().id);
    assert.equal(done.organization.plan, 'pro');
    assert.equal(done.organization.role, 'owner');
  });

  it('invoices: newest first; without org_slug, those of every org where the caller is owner or admin', async () => {
    const a = await cp.signup();
    const b = await cp.signup();
    const c = await cp.signup();
    const own = await cp.createOrg(a);
    const adminOf = await cp.createOrg(b);
    const memberOf = await cp.createOrg(c);
    await addMember(adminOf, a, 'admin', b);
    await addMember(memberOf, a, 'member', c);
    const topup = async (owner: TestUser, org: TestOrg, credits: number) => {
      const { id } = (await post('/api/v1/billing/topup', owner, { org_slug: org.slug, credits })).json();
      await confirm(owner, id);
    };
    await topup(a, own, 100);
    await topup(b, adminOf, 200);
    await topup(c, memberOf, 300);
    await topup(a, own, 400);

    const all = await get('/api/v1/billing/invoices', a);
    assert.equal(all.statusCode, 200);
    assert.deepEqual(
      all.json().map((i: { org_slug: string; number: string; amount_cents: number }) => [i.org_slug, i.number, i.amount_cents]),
      [
        [own.slug, `${own.slug.toUpperCase()}-0002`, 400],
        [adminOf.slug, `${adminOf.slug.toUpperCase()}-0001`, 200],
        [own.slug, `${own.slug.toUpperCase()}-0001`, 100],
      ],
    );
    const one = await get(`/api/v1/billing/invoices?org_slug=${adminOf.slug}`, a);
    assert.deepEqual(one.json().map((i: { amount_cents: number }) => i.amount_cents), [200]);
    assert.equal((await get(`/api/v1/billing/invoices?org_slug=${memberOf.slug}`, a)).statusCode, 403);
  });

  // ---- pages ---------------------------------------------------------------------------------------------

  it('the confirmation page renders the amount and, for an owner, a form whose urlencoded post confirms and 303s to success_url', async () => {
    const owner = await cp.signup();
    const admin = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, admin, 'admin', owner);
    const { id, url } = await checkout(owner, org, 'pro', { success_url: `https://${org.slug}.${TENANT_DOMAIN}/welcome?x=1&y=2`, cancel_url: '/c' });
    const path = new URL(url).pathname;
    assert.equal(path, `/billing/confirm/${id}`);

    const page = await get(path, owner);
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; form-action 'self' https:\/\/example\.test https:\/\/\*\.example\.test;/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.doesNotMatch(page.body, /<script/i);
    assert.match(page.body, /\$99\.00/);
    assert.match(page.body, /Free \(free\) → Growth \(pro\)/);
    assert.match(page.body, /25,000 credits/);
    assert.ok(page.body.includes(`<form method="post" action="/billing/confirm/${id}">`));
    assert.match(page.body, /name="decision" value="confirm">Confirm and pay \$99\.00</);

    const adminPage = await get(path, admin);
    assert.equal(adminPage.statusCode, 200);
    assert.match(adminPage.body, /Only an owner of .* can confirm this; your role is admin/);
    assert.doesNotMatch(adminPage.body, /<form/);

    const anonymous = await get(path, null);
    assert.equal(anonymous.statusCode, 401);
    assert.match(String(anonymous.headers['content-type']), /^text\/html/);
    assert.match(anonymous.body, /Sign in required/);

    const submitted = await form(path, owner, 'decision=confirm');
    assert.equal(submitted.statusCode, 303, submitted.body);
    assert.equal(submitted.headers.location, `https://${org.slug}.${TENANT_DOMAIN}/welcome?x=1&y=2`);
    const row = await orgRow(org.id);
    assert.equal(row.plan, 'pro');
    assert.equal(Number(row.credits_balance), 25500);
    assert.equal(await invoiceCount(org.id), 1);
    await assertBalanced(org.id);
    // The page views are audited too, but written behind; the confirming POST is in its own transaction.
    assert.deepEqual((await auditRows(path)).filter((r) => r.method === 'POST'), [{ actor: `session:${owner.userId}`, method: 'POST', route: '/billing/confirm/:id', path, status: 303 }]);

    // Completed: the page shows the outcome and a way on, no form.
    const closed = await get(path, owner);
    assert.match(closed.body, /This billing session is completed/);
    assert.ok(closed.body.includes(`href="https://${org.slug}.${TENANT_DOMAIN}/welcome?x=1&amp;y=2"`));
    assert.doesNotMatch(closed.body, /<form/);
  });

  it('the page form cancels with 303 to cancel_url; without one it comes back to the page', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const { id } = await checkout(owner, org, 'starter', { success_url: '/s', cancel_url: '/c?why=changed-mind' });
    const res = await form(`/billing/confirm/${id}`, owner, 'decision=cancel');
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, `${SITE}/c?why=changed-mind`);
    assert.equal((await orgRow(org.id)).plan, 'free');
    const topup = (await post('/api/v1/billing/topup', owner, { org_slug: org.slug, credits: 250 })).json();
    const back = await form(`/billing/confirm/${topup.id}`, owner, 'decision=confirm', null);
    assert.equal(back.statusCode, 303);
    assert.equal(back.headers.location, `/billing/confirm/${topup.id}`);
    assert.equal(Number((await orgRow(org.id)).credits_balance), 750);
    const page = await get(`/billing/confirm/${topup.id}`, owner);
    assert.match(page.body, /Buy 250 credits/);
    assert.match(page.body, /completed/);
  });

  it('page form posts: a foreign Origin is 403 and bad fields are 400 naming the field; nothing changes', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const { id } = await checkout(owner, org, 'starter');
    const { id: portalId } = (await post('/api/v1/billing/portal', owner, { org_slug: org.slug, return_url: '/orgs' })).json();
    const before = await snapshot(org.id);

    const foreign = await form(`/billing/confirm/${id}`, owner, 'decision=confirm', 'https://evil.example');
    assert.equal(foreign.statusCode, 403);
    assert.match(foreign.body, /cross-site form refused: origin https:\/\/evil\.example is not allowed/);
    const foreignSwitch = await form(`/billing/portal/${portalId}`, owner, 'plan=pro', 'http://cp.example.test');
    assert.equal(foreignSwitch.statusCode, 403);

    const bad: Array<[string, string, RegExp]> = [
      [`/billing/confirm/${id}`, 'decision=maybe', /decision must be confirm or cancel/],
      [`/billing/confirm/${id}`, '', /decision is required/],
      [`/billing/confirm/${id}`, 'decision=confirm&amount=0', /unknown field &quot;amount&quot;/],
      [`/billing/confirm/${id}`, 'decision=confirm&decision=cancel', /form field &quot;decision&quot; was sent more than once/],
      [`/billing/confirm/${id}`, 'decision=confirm&__proto__=x', /unknown field &quot;__proto__&quot;/],
      [`/billing/portal/${portalId}`, 'plan=gold', /plan must be one of free, starter, pro/],
      [`/billing/portal/${portalId}`, 'plan=pro&org_slug=other', /unknown field &quot;org_slug&quot;/],
    ];
    for (const [url, fields, message] of bad) {
      const res = await form(url, owner, fields);
      assert.equal(res.statusCode, 400, `${url} ${fields}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.match(res.body, message);
    }
    const plain = await cp.app.inject({ method: 'POST', url: `/billing/confirm/${id}`, headers: { ...cp.as(owner), 'content-type': 'text/plain' }, payload: 'decision=confirm' });
    assert.equal(plain.statusCode, 415);
    assert.deepEqual(await snapshot(org.id), before);
  });

  it('portal: shows plan, balance, ledger and invoices; a downgrade to free goes through the confirm page, keeps the credits and writes no invoice', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    await confirm(owner, (await checkout(owner, org, 'starter')).id);

    const opened = await post('/api/v1/billing/portal', owner, { org_slug: org.slug, return_url: `https://${org.slug}.${TENANT_DOMAIN}/settings` });
    assert.equal(opened.statusCode, 200, opened.body);
    const { url, id: portalId } = opened.json();
    assert.match(portalId, SESSION_ID);
    assert.equal(url, `${SITE}/billing/portal/${portalId}`);
    const session = (await get(`/api/v1/billing/sessions/${portalId}`, owner)).json();
    assert.equal(session.kind, 'portal');
    assert.equal(session.amount_cents, null);
    // A portal session itself has nothing to confirm.
    const nothing = await post(`/api/v1/billing/sessions/${portalId}/confirm`, owner);
    assert.equal(nothing.statusCode, 409);
    assert.equal(nothing.json().code, 'CONFLICT');
    assert.equal((await get(`/billing/confirm/${portalId}`, owner)).statusCode, 404);

    const page = await get(`/billing/portal/${portalId}`, owner);
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.doesNotMatch(page.body, /<script/i);
    assert.match(page.body, /Team \(starter\), \$29\.00 a month/);
    assert.match(page.body, /5,500 credits/);
    assert.match(page.body, /plan_grant:starter/);
    assert.ok(page.body.includes(`${org.slug.toUpperCase()}-0001`));
    assert.ok(page.body.includes(`<form method="post" action="/billing/portal/${portalId}"><input type="hidden" name="plan" value="free">`));
    assert.ok(page.body.includes('value="pro"'));
    assert.ok(!page.body.includes('value="starter"'), 'no switch to the current plan');
    assert.ok(page.body.includes(`href="https://${org.slug}.${TENANT_DOMAIN}/settings"`));

    const ledgerBefore = await ledgerOf(org.id);
    const switched = await form(`/billing/portal/${portalId}`, owner, 'plan=free');
    assert.equal(switched.statusCode, 303, switched.body);
    const confirmUrl = String(switched.headers.location);
    const [, downgradeId] = /^https:\/\/cp\.example\.test\/billing\/confirm\/(bs_[0-9A-Z]{26})$/.exec(confirmUrl) ?? [];
    assert.ok(downgradeId, confirmUrl);
    assert.equal((await orgRow(org.id)).plan, 'starter', 'choosing a plan changes nothing until it is confirmed');

    const confirmPage = await get(`/billing/confirm/${downgradeId}`, owner);
    assert.equal(confirmPage.statusCode, 200);
    assert.match(confirmPage.body, /Switch to the Free plan/);
    assert.match(confirmPage.body, /Team \(starter\) → Free \(free\)/);
    assert.match(confirmPage.body, /nothing to pay/);
    assert.match(confirmPage.body, /<form method="post"/);

    const done = await form(`/billing/confirm/${downgradeId}`, owner, 'decision=confirm');
    assert.equal(done.statusCode, 303);
    assert.equal(done.headers.location, `${SITE}/billing/portal/${portalId}`);
    const row = await orgRow(org.id);
    assert.equal(row.plan, 'free');
    assert.equal(Number(row.plan_monthly_credits), 0);
    assert.equal(Number(row.overage_cap_credits), 0);
    assert.equal(Number(row.credits_balance), 5500, 'credits already granted stay');
    assert.deepEqual(await ledgerOf(org.id), ledgerBefore);
    assert.equal(await invoiceCount(org.id), 1);
    await assertBalanced(org.id);

    const back = await get(`/billing/portal/${portalId}`, owner);
    assert.match(back.body, /Free \(free\), \$0\.00 a month/);
    const again = await form(`/billing/portal/${portalId}`, owner, 'plan=free');
    assert.equal(again.statusCode, 409);
    assert.match(again.body, /already on the Free plan/);

    // An expired portal link still shows the account, without plan switches, and refuses one.
    await cp.db.updateTable('billing_sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', portalId).execute();
    const expired = await get(`/billing/portal/${portalId}`, owner);
    assert.equal(expired.statusCode, 200);
    assert.match(expired.body, /This portal link has expired/);
    assert.doesNotMatch(expired.body, /<form/);
    assert.equal((await form(`/billing/portal/${portalId}`, owner, 'plan=pro')).statusCode, 409);
  });

  it('pages escape what they show', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner, { name: '<img src=x onerror=alert(1)> & "Co"' });
    const { id } = await checkout(owner, org, 'starter');
    const page = await get(`/billing/confirm/${id}`, owner);
    assert.equal(page.statusCode, 200);
    assert.ok(page.body.includes('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;'));
    assert.ok(!page.body.includes('<img'));
  });

  // ---- bad input -----------------------------------------------------------------------------------------

  it('bad input on every body is 400 naming the field and changes nothing', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const { id } = await checkout(owner, org, 'starter');
    const before = await snapshot(org.id);
    const valid = { org_slug: org.slug, plan: 'pro', success_url: '/s', cancel_url: '/c' };
    const cases: Array<[string, unknown, string]> = [
      ['/api/v1/billing/checkout', { ...valid, coupon: 'FREE' }, 'coupon'],
      ['/api/v1/billing/checkout', { ...valid, plan: 'gold' }, 'plan'],
      ['/api/v1/billing/checkout', { ...valid, plan: 'free' }, 'plan'],
      ['/api/v1/billing/checkout', { ...valid, plan: 2 }, 'plan'],
      ['/api/v1/billing/checkout', { ...valid, org_slug: 42 }, 'org_slug'],
      ['/api/v1/billing/checkout', { ...valid, org_slug: 'Not A Slug' }, 'org_slug'],
      ['/api/v1/billing/checkout', { org_slug: org.slug, plan: 'pro', cancel_url: '/c' }, 'success_url'],
      ['/api/v1/billing/checkout', { ...valid, success_url: 'https://evil.example/x' }, 'success_url'],
      ['/api/v1/billing/checkout', { ...valid, success_url: '//evil.example/x' }, 'success_url'],
      ['/api/v1/billing/checkout', { ...valid, success_url: 'javascript:alert(1)' }, 'success_url'],
      ['/api/v1/billing/checkout', { ...valid, cancel_url: `http://${org.slug}.${TENANT_DOMAIN}/x` }, 'cancel_url'],
      ['/api/v1/billing/checkout', { ...valid, cancel_url: '' }, 'cancel_url'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 99 }, 'credits'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 1_000_001 }, 'credits'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 150.5 }, 'credits'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: '500' }, 'credits'],
      ['/api/v1/billing/topup', { org_slug: org.slug }, 'credits'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 500, success_url: 'https://evil.example/' }, 'success_url'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 500, cancel_url: 'https://user:pw@cp.example.test/' }, 'cancel_url'],
      ['/api/v1/billing/topup', { org_slug: org.slug, credits: 500, amount_cents: 1 }, 'amount_cents'],
      ['/api/v1/billing/portal', { org_slug: org.slug }, 'return_url'],
      ['/api/v1/billing/portal', { org_slug: org.slug, return_url: 'https://evil.example/' }, 'return_url'],
      ['/api/v1/billing/portal', { org_slug: org.slug, return_url: '/ok', plan: 'pro' }, 'plan'],
      [`/api/v1/billing/sessions/${id}/confirm`, { force: true }, 'force'],
      [`/api/v1/billing/sessions/${id}/cancel`, { reason: 'x' }, 'reason'],
    ];
    for (const [url, payload, field] of cases) {
      const res = await post(url, owner, payload);
      assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}: ${res.body}`);
      const body = res.json();
      assert.equal(body.code, 'VALIDATION_FAILED');
      assert.deepEqual(body.fields, [field], `${url} ${JSON.stringify(payload)}: ${res.body}`);
      assert.ok(body.error.includes(field), body.error);
    }
    const freeCheckout = await post('/api/v1/billing/checkout', owner, { ...valid, plan: 'free' });
    assert.equal(freeCheckout.json().error, 'plan must be one of starter, pro');
    const unsafe = await post('/api/v1/billing/checkout', owner, { ...valid, success_url: 'https://evil.example/x' });
    assert.equal(unsafe.json().error, `success_url must be a path on this site or a https URL on this site or a tenant host (*.${TENANT_DOMAIN})`);
    const range = await post('/api/v1/billing/topup', owner, { org_slug: org.slug, credits: 99 });
    assert.equal(range.json().error, 'credits must be a whole number of credits from 100 to 1000000');
    const badQuery = await get('/api/v1/billing/invoices?org_slug=Bad!', owner);
    assert.equal(badQuery.statusCode, 400);
    assert.equal(badQuery.json().field, 'org_slug');
    const unknownQuery = await get(`/api/v1/billing/invoices?org_slug=${org.slug}&limit=5`, owner);
    assert.equal(unknownQuery.statusCode, 400);
    assert.deepEqual(await snapshot(org.id), before);
  });

  // ---- the /cp alias -------------------------------------------------------------------------------------

  it('/cp/billing/... works the same as /api/v1/billing/... (with the deprecation headers)', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const v1 = await get('/api/v1/billing/plans', null);
    const legacy = await get('/cp/billing/plans', null);
    assert.equal(legacy.statusCode, 200);
    assert.deepEqual(legacy.json(), v1.json());
    assert.ok(legacy.headers['deprecation']);
    assert.equal(v1.headers['deprecation'], undefined);

    const started = await post('/cp/billing/checkout', owner, { org_slug: org.slug, plan: 'starter', success_url: '/s', cancel_url: '/c' });
    assert.equal(started.statusCode, 200, started.body);
    const { id, url } = started.json();
    assert.equal(url, `${SITE}/billing/confirm/${id}`);
    assert.deepEqual((await get(`/cp/billing/sessions/${id}`, owner)).json(), (await get(`/api/v1/billing/sessions/${id}`, owner)).json());
    const done = await post(`/cp/billing/sessions/${id}/confirm`, owner);
    assert.equal(done.statusCode, 200);
    assert.equal(done.json().organization.plan, 'starter');
    const portal = await post('/cp/billing/portal', owner, { org_slug: org.slug, return_url: '/orgs' });
    assert.equal(portal.statusCode, 200);
    assert.match(portal.json().url, /^https:\/\/cp\.example\.test\/billing\/portal\/bs_/);
    const topup = await post('/cp/billing/topup', owner, { org_slug: org.slug, credits: 100 });
    assert.equal(topup.statusCode, 200);
    await post(`/cp/billing/sessions/${topup.json().id}/cancel`, owner);
    const legacyInvoices = await get(`/cp/billing/invoices?org_slug=${org.slug}`, owner);
    assert.equal(legacyInvoices.statusCode, 200);
    assert.deepEqual(legacyInvoices.json(), (await get(`/api/v1/billing/invoices?org_slug=${org.slug}`, owner)).json());
    assert.equal(legacyInvoices.json().length, 1);
    const member = await cp.signup();
    assert.equal((await post('/cp/billing/checkout', member, { org_slug: org.slug, plan: 'pro', success_url: '/s', cancel_url: '/c' })).statusCode, 404);
    await assertBalanced(org.id);
  });
});
