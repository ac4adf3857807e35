import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { hashCredential } from '../src/core/credentials/format.js';
import { forEachDatabase } from './harness.js';
import { cookieFrom, startTestControlPlane, type TestControlPlane } from './cp-harness.js';

forEachDatabase('control plane: local accounts and sessions', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind);
  });
  after(() => cp.close());

  it('signs up, sets a hashed, HttpOnly, SameSite=Lax session cookie, and /auth/me answers with the user', async () => {
    const res = await cp.app.inject({ method: 'POST', url: '/cp/auth/signup', payload: { email: 'Ada@Example.com', password: 'analytical engine 1843', name: 'Ada' } });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.match(body.user_id, /^usr_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(body.email, 'ada@example.com');
    assert.equal(body.name, 'Ada');
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /^mcp_session=mols_[0-9A-Za-z]{49}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    const cookie = cookieFrom(res.headers['set-cookie']);
    const value = cookie.slice('mcp_session='.length);
    // At rest: the password as a scrypt hash, the session as sha256 only.
    const user = await cp.db.selectFrom('users').selectAll().where('id', '=', body.user_id).executeTakeFirstOrThrow();
    assert.match(user.password_hash ?? '', /^scrypt\$10\$8\$1\$/);
    assert.equal(JSON.stringify(user).includes('analytical engine'), false);
    const sessions = await cp.db.selectFrom('sessions').selectAll().where('user_id', '=', body.user_id).execute();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.token_hash, hashCredential(value));
    assert.equal(JSON.stringify(sessions).includes(value), false);

    const me = await cp.app.inject({ method: 'GET', url: '/cp/auth/me', headers: { cookie } });
    assert.equal(me.statusCode, 200);
    assert.deepEqual(me.json(), { user_id: body.user_id, email: 'ada@example.com', name: 'Ada', email_verified: false, terms_accepted: false });
  });

  it('refuses a second account for the same email (case-insensitive) and creates nothing', async () => {
    await cp.signup({ email: 'dup@example.com' });
    const before = await cp.db.selectFrom('users').select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: 'DUP@example.com', password: 'another password!' } });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'EMAIL_TAKEN');
    assert.equal(res.headers['set-cookie'], undefined);
    const after = await cp.db.selectFrom('users').select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    assert.equal(after.n, before.n);
  });

  it('logs in with the right password; the wrong password and an unknown email get the same 401', async () => {
    const u = await cp.signup({ email: 'grace@example.com', password: 'cobol compiler 1959' });
    const ok = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'GRACE@example.com', password: 'cobol compiler 1959' } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().user_id, u.userId);
    const second = cookieFrom(ok.headers['set-cookie']);
    assert.notEqual(second, u.cookie, 'every sign-in is a new session');
    const wrong = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'grace@example.com', password: 'cobol compiler 1960' } });
    const unknown = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody@example.com', password: 'cobol compiler 1959' } });
    for (const res of [wrong, unknown]) {
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().error, 'invalid email or password');
      assert.equal(res.json().code, 'INVALID_CREDENTIALS');
      assert.equal(res.headers['set-cookie'], undefined);
    }
  });

  it('signout revokes the session at once and clears the cookie; other sessions of the user live on', async () => {
    const u = await cp.signup();
    const other = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: u.email, password: u.password } });
    const otherCookie = cookieFrom(other.headers['set-cookie']);
    const out = await cp.app.inject({ method: 'POST', url: '/cp/auth/signout', headers: cp.as(u) });
    assert.equal(out.statusCode, 200);
    assert.deepEqual(out.json(), { ok: true, logout_url: '' });
    assert.match(String(out.headers['set-cookie']), /^mcp_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT$/);
    const me = await cp.app.inject({ method: 'GET', url: '/cp/auth/me', headers: cp.as(u) });
    assert.equal(me.statusCode, 401);
    assert.equal(me.json().code, 'SESSION_REQUIRED');
    const still = await cp.app.inject({ method: 'GET', url: '/cp/auth/me', headers: { cookie: otherCookie } });
    assert.equal(still.statusCode, 200);
  });

  it('an expired session is refused', async () => {
    const u = await cp.signup();
    await cp.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', u.userId).execute();
    const me = await cp.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: cp.as(u) });
    assert.equal(me.statusCode, 401);
  });

  it('/auth/me without a cookie is 401 (anonymous), and a tenant credential is refused by name', async () => {
    const anon = await cp.app.inject({ method: 'GET', url: '/cp/auth/me' });
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.json().error, 'not authenticated: sign in first');
    const key = await cp.app.inject({ method: 'GET', url: '/cp/auth/me', headers: { authorization: 'Bearer mola_abc' } });
    assert.equal(key.statusCode, 401);
    assert.equal(key.json().code, 'TENANT_CREDENTIAL_REJECTED');
  });

  it('terms: status false until accepted; a stale version is refused; then true', async () => {
    const u = await cp.signup({ acceptTerms: false });
    const s1 = await cp.app.inject({ method: 'GET', url: '/cp/auth/terms-status', headers: cp.as(u) });
    assert.deepEqual(s1.json(), { accepted: false, version: cp.config.TERMS_VERSION, accepted_version: null });
    const stale = await cp.app.inject({ method: 'POST', url: '/cp/auth/accept-terms', headers: cp.as(u), payload: { version: '1999-01-01' } });
    assert.equal(stale.statusCode, 400);
    assert.equal(stale.json().field, 'version');
    const acc = await cp.app.inject({ method: 'POST', url: '/cp/auth/accept-terms', headers: cp.as(u) });
    assert.equal(acc.statusCode, 200);
    const s2 = await cp.app.inject({ method: 'GET', url: '/cp/auth/terms-status', headers: cp.as(u) });
    assert.deepEqual(s2.json(), { accepted: true, version: cp.config.TERMS_VERSION, accepted_version: cp.config.TERMS_VERSION });
    const anon = await cp.app.inject({ method: 'GET', url: '/cp/auth/terms-status' });
    assert.equal(anon.statusCode, 401);
  });

  it('tenant-member: members get {member:true,user_id,role,org_id,slug}; others and unknown orgs get {member:false}', async () => {
    const owner = await cp.signup();
    const stranger = await cp.signup();
    const org = await cp.createOrg(owner);
    const other = await cp.createOrg(stranger);
    const ask = (query: string, headers: Record<string, string> = cp.as(owner)) => cp.app.inject({ method: 'GET', url: `/cp/auth/tenant-member?${query}`, headers });
    const yes = { member: true, user_id: owner.userId, role: 'owner', org_id: org.id, slug: org.slug };
    for (const query of [`slug=${org.slug}`, `org_id=${org.id}`, `org_id=${org.id.toUpperCase()}`, `org_id=${org.id}&slug=${org.slug}`]) {
      const res = await ask(query);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      assert.deepEqual(res.json(), yes, query);
    }
    // Asked for one org, the answer is about that org only: membership elsewhere, or a slug naming another org, is a no.
    for (const query of [`org_id=${other.id}`, `org_id=${org.id}&slug=${other.slug}`, `org_id=00000000-0000-4000-8000-000000000000`, 'slug=no-such-org']) {
      const res = await ask(query);
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
      assert.deepEqual(res.json(), { member: false }, query);
    }
    assert.deepEqual((await ask(`slug=${org.slug}`, cp.as(stranger))).json(), { member: false });
    assert.deepEqual((await ask(`org_id=${org.id}`, cp.as(stranger))).json(), { member: false });
    for (const [query, field] of [['slug=NOT_A_SLUG', 'slug'], ['org_id=acme', 'org_id'], ['', 'org_id']] as const) {
      const bad = await ask(query);
      assert.equal(bad.statusCode, 400, `${query}: ${bad.body}`);
      assert.equal(bad.json().code, 'VALIDATION_FAILED');
      assert.equal(bad.json().field, field, bad.body);
    }
    const anon = await cp.app.inject({ method: 'GET', url: `/cp/auth/tenant-member?org_id=${org.id}` });
    assert.equal(anon.statusCode, 401);
  });

  it('refuses bad sign-up and login bodies naming the field, and creates nothing', async () => {
    const count = async () => Number((await cp.db.selectFrom('users').select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const cases: Array<[string, unknown, string]> = [
      ['/api/v1/auth/signup', {}, 'email'],
      ['/api/v1/auth/signup', { email: 'not-an-email', password: 'long enough password' }, 'email'],
      ['/api/v1/auth/signup', { email: 'x@example.com', password: 'short' }, 'password'],
      ['/api/v1/auth/signup', { email: 'x@example.com', password: 'p'.repeat(257) }, 'password'],
      ['/api/v1/auth/signup', { email: 'x@example.com', password: 12345678901 }, 'password'],
      ['/api/v1/auth/signup', { email: 'x@example.com', password: 'long enough password', admin: true }, 'admin'],
      ['/api/v1/auth/signup', { email: 'x@example.com', password: 'long enough password', name: 'a\u0000b' }, 'name'],
      ['/api/v1/auth/login', { email: 'x@example.com' }, 'password'],
      ['/api/v1/auth/login', { email: ['x@example.com'], password: 'x' }, 'email'],
    ];
    for (const [url, payload, field] of cases) {
      const res = await cp.app.inject({ method: 'POST', url, payload: payload as object });
      assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}: ${res.body}`);
      assert.ok(res.json().fields.includes(field), `${JSON.stringify(payload)} names ${field}: ${res.body}`);
      assert.equal(res.headers['set-cookie'], undefined);
    }
    const invalidJson = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/signup', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
    assert.equal(invalidJson.statusCode, 400);
    const form = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/signup', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a@b.c' });
    assert.equal(form.statusCode, 415);
    assert.equal(await count(), before);
  });
});

forEachDatabase('control plane: sign-in rate limits', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { LOGIN_ATTEMPT_LIMIT: '3', SIGNUP_LIMIT: '2' } });
  });
  after(() => cp.close());

  it('limits password attempts per client and email with 429 and Retry-After; another email is unaffected', async () => {
    const u = await cp.signup();
    const attempt = (email: string) => cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: 'wrong password here' } });
    for (let i = 0; i < 3; i++) assert.equal((await attempt(u.email)).statusCode, 401);
    const limited = await attempt(u.email);
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    // Even the right password waits out the window: guessing gains nothing.
    const right = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: u.email, password: u.password } });
    assert.equal(right.statusCode, 429);
    assert.equal((await attempt('someone-else@example.com')).statusCode, 401);
  });

  it('limits sign-ups per client', async () => {
    // One sign-up was spent by the previous test.
    const signup = (n: number) => cp.app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: `rl-${n}@example.com`, password: 'long enough password' } });
    assert.equal((await signup(1)).statusCode, 201);
    const limited = await signup(2);
    assert.equal(limited.statusCode, 429);
    assert.equal(await cp.db.selectFrom('users').select('id').where('email', '=', 'rl-2@example.com').executeTakeFirst(), undefined);
  });
});

forEachDatabase('control plane: the session cookie behind https with tenant subdomains', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { PUBLIC_URL: 'https://api.example.test', TENANT_DOMAIN: 'example.test', SESSION_TTL_HOURS: '2' } });
  });
  after(() => cp.close());

  it('is Secure, scoped to TENANT_DOMAIN so <slug>.<domain> receives it, and lives SESSION_TTL_HOURS', async () => {
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: 'secure@example.com', password: 'long enough password' } });
    assert.equal(res.statusCode, 201);
    assert.match(String(res.headers['set-cookie']), /^mcp_session=mols_\w+; Path=\/; Max-Age=7200; HttpOnly; SameSite=Lax; Domain=example\.test; Secure$/);
    const expires = Date.parse(res.json().expires_at);
    assert.ok(Math.abs(expires - (Date.now() + 7200_000)) < 60_000);
  });

  it('accepts cookie-authenticated writes from its own origin and tenant hosts, refuses foreign origins', async () => {
    const u = await cp.signup();
    const post = (origin: string) => cp.app.inject({ method: 'POST', url: '/api/v1/auth/accept-terms', headers: { ...cp.as(u), origin }, payload: {} });
    assert.equal((await post('https://api.example.test')).statusCode, 200);
    assert.equal((await post('https://acme.example.test')).statusCode, 200);
    for (const origin of ['https://evil.test', 'http://acme.example.test', 'https://example.test.evil.test', 'null']) {
      const res = await post(origin);
      assert.equal(res.statusCode, 403, origin);
      assert.equal(res.json().code, 'ORIGIN_FORBIDDEN');
    }
  });
});

forEachDatabase('control plane: dead sessions are swept', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind);
  });
  after(() => cp.close());

  it('deletes sessions a day after they expire or are revoked, expired OIDC states and verification links; live ones stay', async () => {
    const { sweepSessions } = await import('../src/control-plane/auth/sessions.js');
    const live = await cp.signup();
    const expired = await cp.signup();
    const revoked = await cp.signup();
    const recentlyExpired = await cp.signup();
    const dayAndABit = new Date(Date.now() - 25 * 3600_000);
    await cp.db.updateTable('sessions').set({ expires_at: dayAndABit }).where('user_id', '=', expired.userId).execute();
    await cp.db.updateTable('sessions').set({ revoked_at: dayAndABit }).where('user_id', '=', revoked.userId).execute();
    await cp.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 3600_000) }).where('user_id', '=', recentlyExpired.userId).execute();
    await cp.db.updateTable('email_verifications').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', expired.userId).execute();
    await cp.db
      .insertInto('oidc_states')
      .values({ state_hash: 'a'.repeat(64), provider: 'oidc', code_verifier: 'v', nonce: 'n', return_to: null, expires_at: new Date(Date.now() - 1000) })
      .execute();
    const swept = await sweepSessions(cp.db);
    assert.deepEqual(swept, { sessions: 2, oidcStates: 1, emailVerifications: 1, deviceAuthorizations: 0 });
    assert.deepEqual(
      (await cp.db.selectFrom('email_verifications').select('user_id').where('user_id', 'in', [live.userId, expired.userId]).orderBy('user_id').execute()).map((r) => r.user_id),
      [live.userId],
      'the live link stays',
    );
    const left = await cp.db.selectFrom('sessions').select('user_id').where('user_id', 'in', [live.userId, expired.userId, revoked.userId, recentlyExpired.userId]).execute();
    assert.deepEqual(left.map((r) => r.user_id).sort(), [live.userId, recentlyExpired.userId].sort());
    assert.equal((await cp.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: cp.as(live) })).statusCode, 200);
  });
});
