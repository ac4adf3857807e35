/**
 * The org key policy (issue 14): GET/PUT /org/settings/key-policy — admin-only writes, audited, validated with a 400
 * that changes nothing — enforced at every mint with a 422 naming the broken rule, judged on the key's effective
 * expiry. Existing keys and rotations are untouched.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const DAY = 24 * 3600_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();

forEachDatabase('org key policy', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  const put = (body: unknown, headers = t.admin()) => t.app.inject({ method: 'PUT', url: '/org/settings/key-policy', headers, payload: body as object });
  const get = (headers = t.admin()) => t.app.inject({ method: 'GET', url: '/org/settings/key-policy', headers });
  const mint = (body: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: body });

  it('starts with no policy; a never-expiring key is allowed', async () => {
    const res = await get();
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { max_lifetime_days: null, require_expiry: false, updated_by: null, updated_at: null });
    assert.equal((await mint({ name: 'forever' })).statusCode, 200);
  });

  it('refuses a malformed policy with a 400 naming the field, changing nothing', async () => {
    for (const [body, field] of [
      [{ max_lifetime_days: 0, require_expiry: false }, 'max_lifetime_days'],
      [{ max_lifetime_days: 3651, require_expiry: false }, 'max_lifetime_days'],
      [{ max_lifetime_days: 1.5, require_expiry: false }, 'max_lifetime_days'],
      [{ max_lifetime_days: null }, 'require_expiry'],
      [{ max_lifetime_days: null, require_expiry: 'yes' }, 'require_expiry'],
    ] as const) {
      const res = await put(body);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'VALIDATION_FAILED');
      assert.match(res.body, new RegExp(field));
    }
    assert.equal((await get()).json().updated_at, null);
  });

  it('only an admin sets it; a reader may read it', async () => {
    const reader = await t.mintKey({ name: 'reader', role: 'reader' });
    const denied = await put({ max_lifetime_days: 1, require_expiry: true }, t.as(reader.auth_token));
    assert.equal(denied.statusCode, 403, denied.body);
    assert.equal(denied.json().code, 'ROLE_FORBIDDEN');
    const read = await get(t.as(reader.auth_token));
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().require_expiry, false);
  });

  it('require_expiry: a key without an expiry is refused with 422 KEY_POLICY_EXPIRY_REQUIRED; one with an expiry is minted', async () => {
    const set = await put({ max_lifetime_days: null, require_expiry: true });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(set.json().require_expiry, true);
    assert.equal(set.json().updated_by, 'admin-token');
    const before = await t.db.selectFrom('org_api_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const refused = await mint({ name: 'no-expiry' });
    assert.equal(refused.statusCode, 422, refused.body);
    assert.equal(refused.json().code, 'KEY_POLICY_EXPIRY_REQUIRED');
    assert.equal(refused.json().rule, 'require_expiry');
    assert.match(refused.json().error, /set expires_at/);
    assert.equal(typeof refused.json().request_id, 'string');
    const after = await t.db.selectFrom('org_api_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(after.n), Number(before.n), 'nothing minted');
    const ok = await mint({ name: 'expiring', expires_at: inDays(30) });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('max_lifetime_days: a longer-lived (or endless) key is refused with 422 naming the limit; within it, minted', async () => {
    const set = await put({ max_lifetime_days: 7, require_expiry: false });
    assert.equal(set.statusCode, 200, set.body);
    const tooLong = await mint({ name: 'too-long', expires_at: inDays(8) });
    assert.equal(tooLong.statusCode, 422, tooLong.body);
    assert.equal(tooLong.json().code, 'KEY_POLICY_LIFETIME_EXCEEDED');
    assert.equal(tooLong.json().rule, 'max_lifetime_days');
    assert.equal(tooLong.json().max_lifetime_days, 7);
    assert.match(tooLong.json().error, /at most 7 days/);
    const endless = await mint({ name: 'endless' });
    assert.equal(endless.statusCode, 422, endless.body);
    assert.equal(endless.json().code, 'KEY_POLICY_LIFETIME_EXCEEDED');
    const ok = await mint({ name: 'week', expires_at: inDays(6) });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('existing keys keep working; clearing the policy allows endless keys again; every change is audited with it', async () => {
    const list = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() });
    assert.ok((list.json().tokens as Array<{ name: string }>).some((k) => k.name === 'forever'));
    const cleared = await put({ max_lifetime_days: null, require_expiry: false });
    assert.equal(cleared.statusCode, 200);
    assert.equal((await mint({ name: 'forever-again' })).statusCode, 200);
    const audited = await t.db.selectFrom('audit_events').select(['method', 'path', 'status']).where('path', '=', '/org/settings/key-policy').where('method', '=', 'PUT').execute();
    // Three successful sets (require_expiry, max_lifetime_days, cleared), each written with the change itself.
    assert.equal(audited.filter((e) => e.status === 200).length, 3);
  });
});
