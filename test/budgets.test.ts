import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { recordReportedSpend } from '../src/tenant/budgets/store.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const NO_LIMIT = { limit: null, spend: 0, remaining: null };
const FRESH_BUDGET = {
  periods: { hourly: NO_LIMIT, daily: NO_LIMIT, weekly: NO_LIMIT, monthly: NO_LIMIT },
  budget_limit: null,
  monthly_spend: 0,
  budget_remaining: null,
};
const MODES = 'platform_managed, byok, disabled';

forEachDatabase('budgets and LLM billing mode', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  const budgetUrl = (id: string) => `/workspaces/${id}/budget`;
  const billingUrl = (id: string) => `/admin/workspaces/${id}/llm-billing-mode`;
  const getBudget = (id: string, headers = t.admin()) => t.app.inject({ method: 'GET', url: budgetUrl(id), headers });
  const patchBudget = (id: string, payload: unknown, headers = t.admin()) =>
    t.app.inject({ method: 'PATCH', url: budgetUrl(id), headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  const putMode = (id: string, payload: unknown, headers = t.admin()) =>
    t.app.inject({ method: 'PUT', url: billingUrl(id), headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  const storedBudget = (id: string) =>
    t.db.selectFrom('workspaces').select(['budget_limits', 'budget_limit', 'updated_at']).where('id', '=', id).executeTakeFirstOrThrow();
  const budgetEvents = async (id: string) =>
    (await t.db.selectFrom('workspace_events').select('payload').where('workspace_id', '=', id).where('event_type', '=', 'BUDGET_UPDATED').orderBy('id').execute()).map(
      (r) => r.payload,
    );
  const ledger = async (id: string) =>
    (await t.db.selectFrom('workspace_spend_events').select('delta_cents').where('workspace_id', '=', id).orderBy('id').execute()).map((r) => Number(r.delta_cents));
  const monthlySpendColumn = async (id: string) =>
    Number((await t.db.selectFrom('workspaces').select('monthly_spend').where('id', '=', id).executeTakeFirstOrThrow()).monthly_spend);
  const addLedgerRow = (id: string, cents: number, ago: string) =>
    sql`insert into workspace_spend_events (workspace_id, delta_cents, occurred_at) values (${id}, ${cents}, now() - ${ago}::interval)`.execute(t.db);

  // -------------------------------------------------------------------------------------------------------------
  // GET /workspaces/:id/budget
  // -------------------------------------------------------------------------------------------------------------

  it('GET: a fresh workspace has no limits and no spend in any period', async () => {
    const ws = await t.createWorkspace();
    const res = await getBudget(ws.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), FRESH_BUDGET);
  });

  it('GET: malformed id 400 "invalid workspace ID"; unknown and removed 404 "workspace not found"', async () => {
    const bad = await getBudget('not-a-uuid');
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().error, 'invalid workspace ID');
    assert.equal(bad.json().code, 'VALIDATION_FAILED');
    const unknown = await getBudget(randomUUID());
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error, 'workspace not found');
    const ws = await t.createWorkspace();
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 200);
    const removed = await getBudget(ws.id);
    assert.equal(removed.statusCode, 404);
    assert.equal(removed.json().error, 'workspace not found');
  });

  it('GET: spend per period sums the ledger within each rolling window; remaining may go negative', async () => {
    const ws = await t.createWorkspace();
    await addLedgerRow(ws.id, 10, '30 minutes');
    await addLedgerRow(ws.id, 20, '2 hours');
    await addLedgerRow(ws.id, 40, '2 days');
    await addLedgerRow(ws.id, 80, '10 days');
    await addLedgerRow(ws.id, 160, '31 days'); // outside the 30-day "monthly" window
    const patch = await patchBudget(ws.id, { budget_limits: { hourly: 5, daily: 30, weekly: 1000, monthly: 0 } });
    assert.equal(patch.statusCode, 200, patch.body);
    const expected = {
      periods: {
        hourly: { limit: 5, spend: 10, remaining: -5 },
        daily: { limit: 30, spend: 30, remaining: 0 },
        weekly: { limit: 1000, spend: 70, remaining: 930 },
        monthly: { limit: 0, spend: 150, remaining: -150 },
      },
      budget_limit: 0,
      monthly_spend: 150,
      budget_remaining: -150,
    };
    assert.deepEqual(patch.json(), expected);
    assert.deepEqual((await getBudget(ws.id)).json(), expected);
    // Another workspace's ledger never leaks in.
    const other = await t.createWorkspace();
    assert.deepEqual((await getBudget(other.id)).json(), FRESH_BUDGET);
  });

  // -------------------------------------------------------------------------------------------------------------
  // PATCH /workspaces/:id/budget
  // -------------------------------------------------------------------------------------------------------------

  it('PATCH: sets every period, keeps the legacy column equal to monthly, records BUDGET_UPDATED and its audit row', async () => {
    const ws = await t.createWorkspace();
    const before = await storedBudget(ws.id);
    const res = await patchBudget(ws.id, { budget_limits: { hourly: 100, daily: 500, weekly: 2000, monthly: 5000 } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      periods: {
        hourly: { limit: 100, spend: 0, remaining: 100 },
        daily: { limit: 500, spend: 0, remaining: 500 },
        weekly: { limit: 2000, spend: 0, remaining: 2000 },
        monthly: { limit: 5000, spend: 0, remaining: 5000 },
      },
      budget_limit: 5000,
      monthly_spend: 0,
      budget_remaining: 5000,
    });
    assert.deepEqual((await getBudget(ws.id)).json(), res.json());
    const row = await storedBudget(ws.id);
    assert.deepEqual(row.budget_limits, { hourly: 100, daily: 500, weekly: 2000, monthly: 5000 });
    assert.equal(Number(row.budget_limit), 5000);
    assert.ok(new Date(row.updated_at) >= new Date(before.updated_at));
    assert.deepEqual(await budgetEvents(ws.id), [{ budget_limits: { hourly: 100, daily: 500, weekly: 2000, monthly: 5000 } }]);
    const audit = await t.db.selectFrom('audit_events').selectAll().where('request_id', '=', String(res.headers['x-request-id'])).execute();
    assert.equal(audit.length, 1, 'one audit row, written with the change');
    assert.deepEqual([audit[0]!.method, audit[0]!.route, audit[0]!.status], ['PATCH', '/workspaces/:id/budget', 200]);
  });

  it('PATCH (§11 case 43): the map is replaced, not merged; budget_limit follows monthly', async () => {
    const ws = await t.createWorkspace();
    assert.equal((await patchBudget(ws.id, { budget_limits: { hourly: 1, monthly: 9000 } })).statusCode, 200);
    const res = await patchBudget(ws.id, { budget_limits: { daily: 100 } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.periods.daily.limit, 100);
    assert.equal(body.periods.monthly.limit, null);
    assert.equal(body.periods.hourly.limit, null);
    assert.equal(body.budget_limit, null);
    assert.equal(body.budget_remaining, null);
    const row = await storedBudget(ws.id);
    assert.deepEqual(row.budget_limits, { daily: 100 });
    assert.equal(row.budget_limit, null);
  });

  it('PATCH: a null period clears it, 0 is a real limit, null budget_limits clears everything', async () => {
    const ws = await t.createWorkspace();
    const res = await patchBudget(ws.id, { budget_limits: { hourly: null, daily: 0, monthly: 0 } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().periods.hourly, { limit: null, spend: 0, remaining: null });
    assert.deepEqual(res.json().periods.daily, { limit: 0, spend: 0, remaining: 0 });
    assert.equal(res.json().budget_limit, 0);
    assert.equal(Number((await storedBudget(ws.id)).budget_limit), 0);
    const cleared = await patchBudget(ws.id, { budget_limits: null });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual(cleared.json(), FRESH_BUDGET);
    assert.deepEqual((await storedBudget(ws.id)).budget_limits, {});
    const empty = await patchBudget(ws.id, { budget_limits: {} });
    assert.equal(empty.statusCode, 200);
    assert.deepEqual(empty.json(), FRESH_BUDGET);
  });

  it('PATCH: the legacy budget_limit sets monthly and clears the other periods; null clears all', async () => {
    const ws = await t.createWorkspace();
    assert.equal((await patchBudget(ws.id, { budget_limits: { hourly: 10, daily: 20, weekly: 30, monthly: 40 } })).statusCode, 200);
    const legacy = await patchBudget(ws.id, { budget_limit: 2000 });
    assert.equal(legacy.statusCode, 200, legacy.body);
    assert.deepEqual(legacy.json(), {
      periods: { hourly: NO_LIMIT, daily: NO_LIMIT, weekly: NO_LIMIT, monthly: { limit: 2000, spend: 0, remaining: 2000 } },
      budget_limit: 2000,
      monthly_spend: 0,
      budget_remaining: 2000,
    });
    assert.deepEqual((await storedBudget(ws.id)).budget_limits, { monthly: 2000 });
    const zero = await patchBudget(ws.id, { budget_limit: 0 });
    assert.equal(zero.statusCode, 200);
    assert.equal(zero.json().budget_limit, 0);
    const cleared = await patchBudget(ws.id, { budget_limit: null });
    assert.equal(cleared.statusCode, 200);
    assert.deepEqual(cleared.json(), FRESH_BUDGET);
    const row = await storedBudget(ws.id);
    assert.deepEqual(row.budget_limits, {});
    assert.equal(row.budget_limit, null);
  });

  it('PATCH: with both fields, budget_limits wins and the legacy field is not looked at (reference)', async () => {
    const ws = await t.createWorkspace();
    const res = await patchBudget(ws.id, { budget_limits: { weekly: 700 }, budget_limit: 99 });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().periods.weekly.limit, 700);
    assert.equal(res.json().budget_limit, null);
    const ignored = await patchBudget(ws.id, { budget_limits: { daily: 5 }, budget_limit: 'not a number' });
    assert.equal(ignored.statusCode, 200, ignored.body);
    assert.deepEqual((await storedBudget(ws.id)).budget_limits, { daily: 5 });
  });

  it('PATCH (§11 case 42 and the rest): bad bodies answer 400 with the reference message and change nothing', async () => {
    const ws = await t.createWorkspace();
    assert.equal((await patchBudget(ws.id, { budget_limits: { daily: 50, monthly: 300 } })).statusCode, 200);
    const before = await storedBudget(ws.id);
    const eventsBefore = (await budgetEvents(ws.id)).length;
    const typeMsg = 'budget_limits must be an object of period→int|null';
    const legacyTypeMsg = 'budget_limit must be an integer (USD cents) or null';
    const cases: Array<[unknown, string]> = [
      [{}, 'budget_limits or budget_limit field is required'],
      [{ budget_limits: { yearly: 5 } }, 'unknown budget period: yearly (allowed: hourly, daily, weekly, monthly)'],
      [{ budget_limits: { daily: 5, Monthly: 5 } }, 'unknown budget period: Monthly (allowed: hourly, daily, weekly, monthly)'],
      [{ budget_limit: -1 }, 'budget_limit must be >= 0 (USD cents)'],
      [{ budget_limits: { daily: -5 } }, 'budget limit for daily must be >= 0 (USD cents)'],
      [{ budget_limits: { hourly: 1, weekly: -1 } }, 'budget limit for weekly must be >= 0 (USD cents)'],
      [{ budget_limits: [1, 2] }, typeMsg],
      [{ budget_limits: 'daily' }, typeMsg],
      [{ budget_limits: 5 }, typeMsg],
      [{ budget_limits: true }, typeMsg],
      [{ budget_limits: { daily: '5' } }, typeMsg],
      [{ budget_limits: { daily: 1.5 } }, typeMsg],
      [{ budget_limits: { daily: true } }, typeMsg],
      [{ budget_limits: { daily: { cents: 5 } } }, typeMsg],
      [{ budget_limits: { daily: 1e20 } }, typeMsg],
      // Type errors come first, as the reference decodes the whole map before looking at its keys.
      [{ budget_limits: { yearly: 'x' } }, typeMsg],
      [{ budget_limit: '5' }, legacyTypeMsg],
      [{ budget_limit: 1.5 }, legacyTypeMsg],
      [{ budget_limit: true }, legacyTypeMsg],
      [{ budget_limit: {} }, legacyTypeMsg],
      [{ budget_limit: [] }, legacyTypeMsg],
      [{ budget_limit: 2 ** 60 }, legacyTypeMsg],
      [[], 'invalid request body'],
      [[{ budget_limit: 5 }], 'invalid request body'],
      ['budget', 'invalid request body'],
      [42, 'invalid request body'],
      [null, 'invalid request body'],
      [{ budget_limit: 5, colour: 'blue' }, 'unknown field "colour"'],
    ];
    for (const [payload, error] of cases) {
      const res = await patchBudget(ws.id, payload);
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
      assert.equal(res.json().error, error, JSON.stringify(payload));
      assert.equal(res.json().code, 'VALIDATION_FAILED', JSON.stringify(payload));
    }
    const malformed = await t.app.inject({
      method: 'PATCH',
      url: budgetUrl(ws.id),
      headers: { ...t.admin(), 'content-type': 'application/json' },
      payload: '{"budget_limit": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, 'INVALID_JSON');
    const after = await storedBudget(ws.id);
    assert.deepEqual(after.budget_limits, before.budget_limits);
    assert.equal(Number(after.budget_limit), 300);
    assert.equal(new Date(after.updated_at).getTime(), new Date(before.updated_at).getTime());
    assert.equal((await budgetEvents(ws.id)).length, eventsBefore, 'no BUDGET_UPDATED for a refused body');
  });

  it('PATCH: the body is checked before the workspace is looked up; then unknown or removed → 404; a bad id → 400', async () => {
    const unknown = randomUUID();
    const invalid = await patchBudget(unknown, { budget_limits: { yearly: 1 } });
    assert.equal(invalid.statusCode, 400);
    assert.equal(invalid.json().error, 'unknown budget period: yearly (allowed: hourly, daily, weekly, monthly)');
    const missing = await patchBudget(unknown, {});
    assert.equal(missing.statusCode, 400);
    const notFound = await patchBudget(unknown, { budget_limit: 5 });
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.json().error, 'workspace not found');
    const ws = await t.createWorkspace();
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 200);
    const removed = await patchBudget(ws.id, { budget_limit: 5 });
    assert.equal(removed.statusCode, 404);
    assert.equal((await storedBudget(ws.id)).budget_limit, null, 'a removed workspace keeps its row unchanged');
    const badId = await patchBudget('not-a-uuid', { budget_limit: 5 });
    assert.equal(badId.statusCode, 400);
    assert.equal(badId.json().error, 'invalid workspace ID');
  });

  // -------------------------------------------------------------------------------------------------------------
  // Auth and roles
  // -------------------------------------------------------------------------------------------------------------

  it('(§11 case 44) a workspace token may read its budget but not change it while ADMIN_TOKEN is set', async () => {
    const ws = await t.createWorkspace();
    const other = await t.createWorkspace();
    const own = await getBudget(ws.id, t.as(ws.auth_token));
    assert.equal(own.statusCode, 200, own.body);
    assert.deepEqual(own.json(), FRESH_BUDGET);
    const foreign = await getBudget(ws.id, t.as(other.auth_token));
    assert.equal(foreign.statusCode, 401);
    const patch = await patchBudget(ws.id, { budget_limit: 5 }, t.as(ws.auth_token));
    assert.equal(patch.statusCode, 401);
    assert.equal(patch.json().error, 'invalid admin auth token');
    for (const [method, payload] of [
      ['GET', undefined],
      ['PUT', { mode: 'byok' }],
    ] as const) {
      const res = await t.app.inject({ method, url: billingUrl(ws.id), headers: t.as(ws.auth_token), ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 401, `${method} billing mode with a workspace token`);
      assert.equal(res.json().error, 'invalid admin auth token');
    }
    const noAuth = await t.app.inject({ method: 'GET', url: budgetUrl(ws.id), headers: { 'x-molecule-org-id': t.orgId } });
    assert.equal(noAuth.statusCode, 401);
    assert.equal((await storedBudget(ws.id)).budget_limit, null);
  });

  it('roles: a reader reads budget and billing mode but gets 403 on PATCH and PUT; an editor may change both', async () => {
    const ws = await t.createWorkspace();
    const reader = t.as((await t.mintKey({ role: 'reader' })).auth_token);
    const editor = t.as((await t.mintKey({ role: 'editor' })).auth_token);
    assert.equal((await getBudget(ws.id, reader)).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: reader })).statusCode, 200);
    const patch = await patchBudget(ws.id, { budget_limit: 5 }, reader);
    assert.equal(patch.statusCode, 403);
    assert.equal(patch.json().code, 'ROLE_FORBIDDEN');
    const put = await putMode(ws.id, { mode: 'byok' }, reader);
    assert.equal(put.statusCode, 403);
    assert.equal(put.json().code, 'ROLE_FORBIDDEN');
    assert.equal((await storedBudget(ws.id)).budget_limit, null);
    assert.equal((await t.db.selectFrom('workspaces').select('llm_billing_mode').where('id', '=', ws.id).executeTakeFirstOrThrow()).llm_billing_mode, null);
    assert.equal((await patchBudget(ws.id, { budget_limit: 5 }, editor)).statusCode, 200);
    assert.equal((await putMode(ws.id, { mode: 'disabled' }, editor)).statusCode, 200);
  });

  it('a key bound to another workspace gets 404 on PATCH and billing mode, and cannot read the budget', async () => {
    const ws = await t.createWorkspace();
    const elsewhere = await t.createWorkspace();
    const bound = t.as((await t.mintKey({ role: 'admin', workspace_ids: [elsewhere.id] })).auth_token);
    assert.equal((await patchBudget(ws.id, { budget_limit: 5 }, bound)).statusCode, 404);
    assert.equal((await putMode(ws.id, { mode: 'byok' }, bound)).statusCode, 404);
    assert.equal((await t.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: bound })).statusCode, 404);
    assert.equal((await getBudget(ws.id, bound)).statusCode, 404);
    assert.equal((await patchBudget(elsewhere.id, { budget_limit: 5 }, bound)).statusCode, 200);
  });

  // -------------------------------------------------------------------------------------------------------------
  // LLM billing mode
  // -------------------------------------------------------------------------------------------------------------

  it('billing mode: without an override the org default applies', async () => {
    const ws = await t.createWorkspace();
    const res = await t.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { workspace_id: ws.id, resolved_mode: 'byok', workspace_override: null, org_default: 'byok', source: 'org_default' });
  });

  it('billing mode (§11 case 45): set, read back, clear with null', async () => {
    const ws = await t.createWorkspace();
    const missing = await putMode(ws.id, {});
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error, "missing required field 'mode' (use null to clear override)");
    const free = await putMode(ws.id, { mode: 'free' });
    assert.equal(free.statusCode, 400);
    assert.equal(free.json().error, `unknown billing mode "free" (allowed: ${MODES})`);
    const set = await putMode(ws.id, { mode: 'platform_managed' });
    assert.equal(set.statusCode, 200, set.body);
    const overridden = { workspace_id: ws.id, resolved_mode: 'platform_managed', workspace_override: 'platform_managed', org_default: 'byok', source: 'workspace_override' };
    assert.deepEqual(set.json(), overridden);
    assert.deepEqual((await t.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: t.admin() })).json(), overridden);
    const byok = await putMode(ws.id, { mode: 'byok' });
    assert.equal(byok.json().source, 'workspace_override');
    assert.equal(byok.json().workspace_override, 'byok');
    const cleared = await putMode(ws.id, { mode: null });
    assert.equal(cleared.statusCode, 200);
    const fallback = { workspace_id: ws.id, resolved_mode: 'byok', workspace_override: null, org_default: 'byok', source: 'org_default' };
    assert.deepEqual(cleared.json(), fallback);
    assert.deepEqual((await t.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: t.admin() })).json(), fallback);
    const row = await t.db.selectFrom('workspaces').select('llm_billing_mode').where('id', '=', ws.id).executeTakeFirstOrThrow();
    assert.equal(row.llm_billing_mode, null);
    const audit = await t.db.selectFrom('audit_events').select('status').where('request_id', '=', String(cleared.headers['x-request-id'])).execute();
    assert.deepEqual(audit, [{ status: 200 }]);
  });

  it('billing mode: bad bodies answer 400 with the reference message and leave the override alone', async () => {
    const ws = await t.createWorkspace();
    assert.equal((await putMode(ws.id, { mode: 'disabled' })).statusCode, 200);
    const stringOrNull = 'mode must be a string or null';
    const cases: Array<[unknown, string]> = [
      [{}, "missing required field 'mode' (use null to clear override)"],
      [{ mode: '' }, `mode must be one of ${MODES}, or null to clear`],
      [{ mode: 5 }, stringOrNull],
      [{ mode: true }, stringOrNull],
      [{ mode: {} }, stringOrNull],
      [{ mode: ['byok'] }, stringOrNull],
      [{ mode: 'free' }, `unknown billing mode "free" (allowed: ${MODES})`],
      [{ mode: 'BYOK' }, `unknown billing mode "BYOK" (allowed: ${MODES})`],
      [{ mode: 'byok', extra: 1 }, 'unknown field "extra"'],
      [[], 'invalid json'],
      ['byok', 'invalid json'],
      [null, 'invalid json'],
    ];
    for (const [payload, error] of cases) {
      const res = await putMode(ws.id, payload);
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
      assert.equal(res.json().error, error, JSON.stringify(payload));
    }
    const malformed = await t.app.inject({ method: 'PUT', url: billingUrl(ws.id), headers: { ...t.admin(), 'content-type': 'application/json' }, payload: '{"mode":' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, 'INVALID_JSON');
    const row = await t.db.selectFrom('workspaces').select('llm_billing_mode').where('id', '=', ws.id).executeTakeFirstOrThrow();
    assert.equal(row.llm_billing_mode, 'disabled');
  });

  it('billing mode: unknown and removed workspaces are 404 (the reference answers 200), a bad id 400', async () => {
    const unknown = randomUUID();
    const get = await t.app.inject({ method: 'GET', url: billingUrl(unknown), headers: t.admin() });
    assert.equal(get.statusCode, 404);
    assert.equal(get.json().error, 'workspace not found');
    const put = await putMode(unknown, { mode: 'byok' });
    assert.equal(put.statusCode, 404);
    assert.equal(put.json().error, 'workspace not found');
    // The body is still checked first.
    assert.equal((await putMode(unknown, { mode: 'free' })).statusCode, 400);
    const ws = await t.createWorkspace();
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: t.admin() })).statusCode, 404);
    assert.equal((await putMode(ws.id, { mode: 'byok' })).statusCode, 404);
    for (const [method, payload] of [
      ['GET', undefined],
      ['PUT', { mode: 'byok' }],
    ] as const) {
      const res = await t.app.inject({ method, url: billingUrl('nope'), headers: t.admin(), ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 400, `${method} with a bad id`);
      assert.equal(res.json().error, 'invalid workspace id');
    }
  });

  it('billing mode: org_default is the tenant’s LLM_BILLING_MODE_DEFAULT', async () => {
    const other = await startTestTenant(kind, { env: { LLM_BILLING_MODE_DEFAULT: 'platform_managed' } });
    try {
      const ws = await other.createWorkspace();
      const res = await other.app.inject({ method: 'GET', url: billingUrl(ws.id), headers: other.admin() });
      assert.deepEqual(res.json(), {
        workspace_id: ws.id,
        resolved_mode: 'platform_managed',
        workspace_override: null,
        org_default: 'platform_managed',
        source: 'org_default',
      });
      const disabled = await other.app.inject({ method: 'PUT', url: billingUrl(ws.id), headers: other.admin(), payload: { mode: 'disabled' } });
      assert.equal(disabled.json().resolved_mode, 'disabled');
      assert.equal(disabled.json().org_default, 'platform_managed');
    } finally {
      await other.close();
    }
  });

  // -------------------------------------------------------------------------------------------------------------
  // Spend ingestion (heartbeat monthly_spend)
  // -------------------------------------------------------------------------------------------------------------

  it('recordReportedSpend: positive deltas go to the ledger; a decrease is a reset; the column follows', async () => {
    const ws = await t.createWorkspace();
    await recordReportedSpend(t.db, ws.id, 100);
    assert.deepEqual(await ledger(ws.id), [100]);
    assert.equal(await monthlySpendColumn(ws.id), 100);
    await recordReportedSpend(t.db, ws.id, 250);
    assert.deepEqual(await ledger(ws.id), [100, 150]);
    await recordReportedSpend(t.db, ws.id, 250); // unchanged: nothing new
    assert.deepEqual(await ledger(ws.id), [100, 150]);
    await recordReportedSpend(t.db, ws.id, 80); // the agent reset its cumulative figure
    assert.deepEqual(await ledger(ws.id), [100, 150, 80]);
    assert.equal(await monthlySpendColumn(ws.id), 80);
    await recordReportedSpend(t.db, ws.id, 90);
    assert.deepEqual(await ledger(ws.id), [100, 150, 80, 10]);
    const budget = (await getBudget(ws.id)).json();
    assert.equal(budget.monthly_spend, 340, 'GET sums the ledger, not the cumulative column');
    assert.equal(budget.periods.hourly.spend, 340);
  });

  it('recordReportedSpend: 0 and negatives report nothing; values clamp to 1e12 and truncate to cents', async () => {
    const ws = await t.createWorkspace();
    await recordReportedSpend(t.db, ws.id, 500);
    await recordReportedSpend(t.db, ws.id, 0); // a heartbeat without spend must not look like a reset
    await recordReportedSpend(t.db, ws.id, -20);
    await recordReportedSpend(t.db, ws.id, Number.NaN);
    assert.deepEqual(await ledger(ws.id), [500]);
    assert.equal(await monthlySpendColumn(ws.id), 500);
    await recordReportedSpend(t.db, ws.id, 1e15);
    assert.deepEqual(await ledger(ws.id), [500, 1e12 - 500]);
    assert.equal(await monthlySpendColumn(ws.id), 1e12);
    await recordReportedSpend(t.db, ws.id, Number.POSITIVE_INFINITY);
    assert.deepEqual(await ledger(ws.id), [500, 1e12 - 500], 'already at the clamp');
    const fractional = await t.createWorkspace();
    await recordReportedSpend(t.db, fractional.id, 12.9);
    assert.deepEqual(await ledger(fractional.id), [12]);
    assert.equal(await monthlySpendColumn(fractional.id), 12);
  });

  it('recordReportedSpend: unknown and removed workspaces are ignored without an error', async () => {
    await recordReportedSpend(t.db, randomUUID(), 100);
    const ws = await t.createWorkspace();
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 200);
    await recordReportedSpend(t.db, ws.id, 100);
    assert.deepEqual(await ledger(ws.id), []);
    assert.equal(await monthlySpendColumn(ws.id), 0);
  });

  it('recordReportedSpend: prunes that workspace’s ledger rows older than 35 days', async () => {
    const ws = await t.createWorkspace();
    const other = await t.createWorkspace();
    await addLedgerRow(ws.id, 7, '40 days');
    await addLedgerRow(ws.id, 3, '34 days');
    await addLedgerRow(other.id, 9, '40 days');
    await recordReportedSpend(t.db, ws.id, 50);
    assert.deepEqual(await ledger(ws.id), [3, 50]);
    assert.deepEqual(await ledger(other.id), [9], 'another workspace is pruned only on its own insert');
  });

  it('recordReportedSpend: concurrent reports of one workspace count an increase once; works inside a caller’s transaction', async () => {
    const ws = await t.createWorkspace();
    await Promise.all(Array.from({ length: 10 }, () => recordReportedSpend(t.db, ws.id, 500)));
    assert.deepEqual(await ledger(ws.id), [500]);
    assert.equal(await monthlySpendColumn(ws.id), 500);
    await Promise.all(Array.from({ length: 10 }, () => recordReportedSpend(t.db, ws.id, 800)));
    assert.deepEqual(await ledger(ws.id), [500, 300]);
    await t.db.transaction().execute((trx) => recordReportedSpend(trx, ws.id, 900));
    assert.equal(await monthlySpendColumn(ws.id), 900);
  });
});
