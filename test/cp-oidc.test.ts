import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { calculatePKCECodeChallenge, type ServerMetadata } from 'openid-client';
import { ConfigError } from '../src/core/config.js';
import { hashCredential } from '../src/core/credentials/format.js';
import { createLogger } from '../src/core/logger.js';
import { loadControlPlaneConfig } from '../src/control-plane/config.js';
import { createOidcLogin, OIDC_STATE_COOKIE, signupPrompt, stateHashOf } from '../src/control-plane/identity/oidc.js';
import { safeReturnTo } from '../src/control-plane/identity/return-to.js';
import { forEachDatabase } from './harness.js';
import { cookieFrom, startTestControlPlane, type TestControlPlane } from './cp-harness.js';
import { freePort, startTestOidcProvider, TestBrowser, type TestAccount, type TestOidcProvider } from './support/oidc-provider.js';

const silent = createLogger({ name: 'test-oidc', level: 'silent' });

describe('OpenID Connect: units', () => {
  it('safeReturnTo accepts a tenant host only with the CP’s own scheme, so https tenants need an https CP', () => {
    assert.equal(safeReturnTo('https://acme.example.test/x', 'https://cp.example.test', 'example.test'), 'https://acme.example.test/x');
    assert.equal(safeReturnTo('https://acme.example.test/x', 'http://cp.example.test', 'example.test'), null);
    assert.equal(safeReturnTo('http://acme.example.test/x', 'https://cp.example.test', 'example.test'), null, 'no downgrade');
    assert.equal(safeReturnTo('https://acme.example.test.evil.example/', 'https://cp.example.test', 'example.test'), null);
    assert.equal(safeReturnTo('https://evilexample.test/', 'https://cp.example.test', 'example.test'), null);
    assert.equal(safeReturnTo('/orgs?x=1#y', 'https://cp.example.test', undefined), '/orgs?x=1#y');
    assert.equal(safeReturnTo('//evil.example/', 'https://cp.example.test', undefined), null);
  });

  it('asks for the sign-up screen only when the provider advertises prompt=create', () => {
    const base = { issuer: 'https://idp.example' } as ServerMetadata;
    assert.equal(signupPrompt({ ...base, prompt_values_supported: ['none', 'login', 'consent', 'create'] }), 'create');
    assert.equal(signupPrompt({ ...base, prompt_values_supported: ['none', 'login', 'consent'] }), undefined);
    assert.equal(signupPrompt(base), undefined);
  });
});

forEachDatabase('control plane: OpenID Connect sign-in against a real provider', (kind) => {
  let op: TestOidcProvider;
  let cp: TestControlPlane;
  /** The CP's PUBLIC_URL; it really listens there. */
  let site: string;

  before(async () => {
    const port = await freePort();
    site = `http://127.0.0.1:${port}`;
    op = await startTestOidcProvider({ redirectUris: [`${site}/cp/auth/callback`, `${site}/api/v1/auth/callback`] });
    cp = await startTestControlPlane(kind, {
      env: { PUBLIC_URL: site, OIDC_ISSUER_URL: op.issuer, OIDC_CLIENT_ID: op.clientId, OIDC_CLIENT_SECRET: op.clientSecret },
    });
    await cp.app.listen({ port, host: '127.0.0.1' });
  });
  after(async () => {
    await cp?.close();
    await op?.close();
  });

  it('refuses a plain-http issuer at boot unless it is on loopback; returns null when OIDC is not configured', () => {
    const config = (issuer: string | undefined) =>
      loadControlPlaneConfig({ MOLECULE_ENV: 'test', OIDC_ISSUER_URL: issuer, OIDC_CLIENT_ID: issuer ? 'client' : undefined });
    const db = cp.db;
    assert.throws(() => createOidcLogin(config('http://idp.example.com'), db, silent), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /OIDC_ISSUER_URL: must be an https URL \(plain http is accepted only for a loopback issuer\)/);
      return true;
    });
    for (const ok of ['https://idp.example.com', 'http://127.0.0.1:9', 'http://localhost:9', 'http://[::1]:9']) {
      assert.equal(createOidcLogin(config(ok), db, silent)?.provider, 'oidc', ok);
    }
    assert.equal(createOidcLogin(config(undefined), db, silent), null);
  });

  function account(claims: Partial<TestAccount> = {}): { sub: string; email: string } {
    const sub = `acct-${randomBytes(5).toString('hex')}`;
    const email = claims.email ?? `${sub}@idp.example`;
    op.accounts.set(sub, { email, email_verified: true, name: `User ${sub}`, ...claims });
    return { sub, email };
  }

  interface Flow {
    browser: TestBrowser;
    start: Response;
    authorizationUrl: URL;
    /** Where the provider sent the browser back to (not yet visited). */
    callbackUrl: URL;
  }

  /** Walks the browser from a CP sign-in URL through the provider to the CP callback URL, signing in as `sub`. */
  async function walkToCallback(startPath: string, sub: string, browser = new TestBrowser()): Promise<Flow> {
    const start = await browser.get(`${site}${startPath}`);
    assert.equal(start.status, 302, await start.clone().text());
    const authorizationUrl = new URL(start.headers.get('location') ?? '');
    assert.equal(authorizationUrl.origin, op.issuer);
    let location = authorizationUrl;
    for (let hop = 0; hop < 10; hop++) {
      if (location.origin === site) return { browser, start, authorizationUrl, callbackUrl: location };
      if (location.pathname.startsWith('/interaction/')) location.searchParams.set('account', sub);
      const res = await browser.get(location);
      assert.ok([302, 303].includes(res.status), `${location.pathname}: ${res.status} ${await res.text()}`);
      location = new URL(res.headers.get('location') ?? '', location);
    }
    throw new Error('too many redirects');
  }

  async function signIn(startPath: string, sub: string) {
    const flow = await walkToCallback(startPath, sub);
    const done = await flow.browser.get(flow.callbackUrl);
    assert.equal(done.status, 302, await done.clone().text());
    return { ...flow, done, cookie: cookieFrom(done.headers.getSetCookie()) };
  }

  async function counts() {
    const n = async (table: 'users' | 'sessions' | 'user_identities' | 'oidc_states') =>
      Number((await cp.db.selectFrom(table).select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    return { users: await n('users'), sessions: await n('sessions'), identities: await n('user_identities'), states: await n('oidc_states') };
  }

  it('signs in through the provider: PKCE S256, state and nonce; a hashed, HttpOnly, SameSite=Lax session; back to return_to', async () => {
    const { sub, email } = account({ name: 'Ada Lovelace' });
    const flow = await walkToCallback('/cp/auth/login?return_to=/somewhere', sub);

    const q = flow.authorizationUrl.searchParams;
    assert.equal(flow.authorizationUrl.pathname, '/auth');
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), op.clientId);
    assert.equal(q.get('redirect_uri'), `${site}/cp/auth/callback`);
    assert.equal(q.get('scope'), 'openid email profile');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('nonce') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('prompt'), null);
    // The browser-binding cookie carries the state; the database only its hash, beside the PKCE verifier.
    assert.match(flow.start.headers.getSetCookie().join('\n'), new RegExp(`^${OIDC_STATE_COOKIE}=${q.get('state')}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax$`));
    const row = await cp.db.selectFrom('oidc_states').selectAll().where('state_hash', '=', stateHashOf(q.get('state') ?? '')).executeTakeFirstOrThrow();
    assert.equal(row.provider, 'oidc');
    assert.equal(row.return_to, '/somewhere');
    assert.equal(row.nonce, q.get('nonce'));
    assert.equal(await calculatePKCECodeChallenge(row.code_verifier.split(' ')[0] ?? ''), q.get('code_challenge'));
    assert.equal(JSON.stringify(row).includes(q.get('state') ?? '-'), false);

    assert.equal(flow.callbackUrl.pathname, '/cp/auth/callback');
    assert.equal(flow.callbackUrl.searchParams.get('state'), q.get('state'));
    assert.equal(flow.callbackUrl.searchParams.get('iss'), op.issuer);
    const done = await flow.browser.get(flow.callbackUrl);
    assert.equal(done.status, 302, await done.clone().text());
    assert.equal(done.headers.get('location'), `${site}/somewhere`);
    const setCookies = done.headers.getSetCookie();
    const session = setCookies.find((c) => c.startsWith('mcp_session=')) ?? '';
    assert.match(session, /^mcp_session=mols_[0-9A-Za-z]{49}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    assert.ok(setCookies.some((c) => c.startsWith(`${OIDC_STATE_COOKIE}=; Path=/; Max-Age=0`)), 'the binding cookie is cleared');
    const cookie = cookieFrom(setCookies);

    const me = await fetch(`${site}/cp/auth/me`, { headers: { cookie } });
    assert.equal(me.status, 200);
    const body = (await me.json()) as { user_id: string };
    assert.deepEqual(body, { user_id: body.user_id, email, name: 'Ada Lovelace', email_verified: true, terms_accepted: false });
    assert.match(body.user_id, /^usr_/);

    const user = await cp.db.selectFrom('users').selectAll().where('id', '=', body.user_id).executeTakeFirstOrThrow();
    assert.equal(user.password_hash, null);
    const identities = await cp.db.selectFrom('user_identities').selectAll().where('user_id', '=', body.user_id).execute();
    assert.deepEqual(
      identities.map((i) => [i.provider, i.subject, i.email]),
      [['oidc', sub, email]],
    );
    const sessions = await cp.db.selectFrom('sessions').selectAll().where('user_id', '=', body.user_id).execute();
    const value = cookie.slice('mcp_session='.length);
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.token_hash, hashCredential(value));
    assert.equal(JSON.stringify(sessions).includes(value), false);
    assert.ok(new Date(sessions[0]!.expires_at).getTime() > Date.now() + 6 * 24 * 3600_000, 'expires with SESSION_TTL_HOURS');
    // The state was consumed; the sign-in is in the audit trail, attributed to the new session.
    assert.equal(await cp.db.selectFrom('oidc_states').select('state_hash').where('state_hash', '=', row.state_hash).executeTakeFirst(), undefined);
    const audit = await cp.db.selectFrom('audit_events').selectAll().where('route', '=', '/cp/auth/callback').where('actor', '=', `session:${body.user_id}`).execute();
    assert.deepEqual(
      audit.map((a) => [a.status, a.path, a.credential_id]),
      [[302, '/cp/auth/callback', sessions[0]!.id]],
    );
  });

  it('signing in again with the same account gives the same user, through /api/v1 as well; no return_to lands on the site root', async () => {
    const { sub } = account();
    const first = await signIn('/cp/auth/login', sub);
    assert.equal(first.done.headers.get('location'), `${site}/`);
    const before = await counts();
    const second = await signIn('/api/v1/auth/login?provider=oidc', sub);
    assert.equal(second.authorizationUrl.searchParams.get('redirect_uri'), `${site}/api/v1/auth/callback`);
    assert.equal(second.callbackUrl.pathname, '/api/v1/auth/callback');
    assert.equal(second.done.headers.get('location'), `${site}/`);
    assert.notEqual(second.cookie, first.cookie, 'every sign-in is a new session');
    const me1 = (await (await fetch(`${site}/api/v1/auth/me`, { headers: { cookie: first.cookie } })).json()) as { user_id: string };
    const me2 = (await (await fetch(`${site}/api/v1/auth/me`, { headers: { cookie: second.cookie } })).json()) as { user_id: string };
    assert.equal(me2.user_id, me1.user_id);
    const after = await counts();
    assert.deepEqual(after, { ...before, sessions: before.sessions + 1 });
  });

  it('GET /auth/signup runs the same flow (no prompt=create: this provider does not advertise it)', async () => {
    const { sub, email } = account();
    const flow = await signIn('/cp/auth/signup?return_to=/welcome', sub);
    assert.equal(flow.authorizationUrl.searchParams.get('prompt'), null);
    assert.equal(flow.authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(flow.done.headers.get('location'), `${site}/welcome`);
    const me = (await (await fetch(`${site}/cp/auth/me`, { headers: { cookie: flow.cookie } })).json()) as { email: string };
    assert.equal(me.email, email);
  });

  it('a replayed callback is refused with 400 and starts no second session; a tampered or expired state is refused', async () => {
    const { sub } = account();
    const flow = await walkToCallback('/cp/auth/login', sub);
    const state = flow.callbackUrl.searchParams.get('state') ?? '';
    const ok = await flow.browser.get(flow.callbackUrl);
    assert.equal(ok.status, 302);
    const before = await counts();

    // Replayed with the binding cookie it had (the real browser's was cleared): the state is gone.
    const replay = await fetch(flow.callbackUrl, { redirect: 'manual', headers: { cookie: `${OIDC_STATE_COOKIE}=${state}` } });
    assert.equal(replay.status, 400);
    assert.deepEqual(await replay.json(), {
      error: 'sign-in state is unknown, expired or already used; start the sign-in again',
      code: 'VALIDATION_FAILED',
      fields: ['state'],
      field: 'state',
      request_id: replay.headers.get('x-request-id'),
    });
    assert.equal(replay.headers.get('location'), null);
    assert.equal(replay.headers.getSetCookie().some((c) => c.startsWith('mcp_session=')), false);
    // Replayed by the same browser (binding cookie cleared): refused before the database is asked.
    const again = await flow.browser.get(flow.callbackUrl);
    assert.equal(again.status, 400);
    assert.equal(((await again.json()) as { error: string }).error, 'sign-in state is unknown, expired or already used; start the sign-in again in this browser');

    // Tampered state: unknown to the CP even when the cookie agrees, and refused when it does not.
    const next = await walkToCallback('/cp/auth/login', sub);
    const real = next.callbackUrl.searchParams.get('state') ?? '';
    const tampered = new URL(next.callbackUrl);
    tampered.searchParams.set('state', `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`);
    const forged = await fetch(tampered, { redirect: 'manual', headers: { cookie: `${OIDC_STATE_COOKIE}=${tampered.searchParams.get('state')}` } });
    assert.equal(forged.status, 400);
    assert.equal(((await forged.json()) as { field: string }).field, 'state');
    const mismatched = await next.browser.get(tampered);
    assert.equal(mismatched.status, 400);
    // A callback URL made in another browser (login CSRF) is refused: this one never began that sign-in.
    const csrf = await new TestBrowser().get(next.callbackUrl);
    assert.equal(csrf.status, 400);
    assert.match(((await csrf.json()) as { error: string }).error, /in this browser$/);
    assert.deepEqual(await counts(), { ...before, states: before.states + 1 });
    // None of that burnt the real sign-in.
    const real302 = await next.browser.get(next.callbackUrl);
    assert.equal(real302.status, 302);

    // Expired: ten minutes at the provider is all a sign-in gets.
    const slow = await walkToCallback('/cp/auth/login', sub);
    const slowHash = stateHashOf(slow.callbackUrl.searchParams.get('state') ?? '');
    await cp.db.updateTable('oidc_states').set({ expires_at: new Date(Date.now() - 1000) }).where('state_hash', '=', slowHash).execute();
    const late = await slow.browser.get(slow.callbackUrl);
    assert.equal(late.status, 400);
    assert.equal(((await late.json()) as { code: string }).code, 'VALIDATION_FAILED');
    assert.equal(late.headers.getSetCookie().some((c) => c.startsWith('mcp_session=')), false);
    const gone = await cp.db.selectFrom('oidc_states').select('state_hash').where('state_hash', '=', slowHash).executeTakeFirst();
    assert.equal(gone, undefined, 'the expired row was consumed');
  });

  it('a state begun under one prefix cannot finish under the other', async () => {
    const { sub } = account();
    const flow = await walkToCallback('/api/v1/auth/login', sub);
    const before = await counts();
    const moved = new URL(flow.callbackUrl);
    moved.pathname = '/cp/auth/callback';
    const res = await flow.browser.get(moved);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'sign-in state is unknown, expired or already used; start the sign-in again (it was issued for /api/v1/auth/callback)');
    assert.deepEqual(await counts(), { ...before, states: before.states - 1 });
  });

  it('refuses an unsafe return_to with 400 naming it, redirects nowhere and stores nothing', async () => {
    const before = await counts();
    for (const bad of ['https://evil.example/', '//evil.example', '/\\evil.example', 'http://evil.example/', 'javascript:alert(1)', `${site}.evil.example/`, 'https://acme.example.test/x']) {
      for (const prefix of ['/cp', '/api/v1']) {
        const res = await fetch(`${site}${prefix}/auth/login?return_to=${encodeURIComponent(bad)}`, { redirect: 'manual' });
        assert.equal(res.status, 400, bad);
        const body = (await res.json()) as Record<string, unknown>;
        assert.equal(body['code'], 'VALIDATION_FAILED');
        assert.equal(body['field'], 'return_to');
        assert.deepEqual(body['fields'], ['return_to']);
        assert.equal(body['error'], 'return_to must be a path on this site, or a URL on this site or on a tenant host with the same scheme');
        assert.equal(res.headers.get('location'), null, bad);
        assert.deepEqual(res.headers.getSetCookie(), []);
      }
    }
    assert.deepEqual(await counts(), before);
    // Same-site absolute URLs are fine.
    const own = await fetch(`${site}/cp/auth/login?return_to=${encodeURIComponent(`${site}/orgs?tab=1`)}`, { redirect: 'manual' });
    assert.equal(own.status, 302);
    const state = new URL(own.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const row = await cp.db.selectFrom('oidc_states').select('return_to').where('state_hash', '=', stateHashOf(state)).executeTakeFirstOrThrow();
    assert.equal(row.return_to, `${site}/orgs?tab=1`);
  });

  it('an https CP with TENANT_DOMAIN accepts https tenant hosts for return_to, and refuses a downgrade', async () => {
    const secure = await startTestControlPlane(kind, {
      env: { PUBLIC_URL: 'https://cp.example.test', TENANT_DOMAIN: 'example.test', OIDC_ISSUER_URL: op.issuer, OIDC_CLIENT_ID: op.clientId, OIDC_CLIENT_SECRET: op.clientSecret },
    });
    try {
      const ok = await secure.app.inject({ method: 'GET', url: `/cp/auth/login?return_to=${encodeURIComponent('https://acme.example.test/x')}` });
      assert.equal(ok.statusCode, 302, ok.body);
      const auth = new URL(String(ok.headers.location));
      assert.equal(auth.origin, op.issuer);
      assert.equal(auth.searchParams.get('redirect_uri'), 'https://cp.example.test/cp/auth/callback');
      const row = await secure.db.selectFrom('oidc_states').select('return_to').where('state_hash', '=', stateHashOf(auth.searchParams.get('state') ?? '')).executeTakeFirstOrThrow();
      assert.equal(row.return_to, 'https://acme.example.test/x');
      // Over https the binding cookie is Secure too.
      assert.match(String(ok.headers['set-cookie']), /; HttpOnly; SameSite=Lax; Secure$/);
      for (const bad of ['http://acme.example.test/x', 'http://cp.example.test/', 'https://acme.example.test.evil.example/', 'https://evil.example/']) {
        const res = await secure.app.inject({ method: 'GET', url: `/api/v1/auth/login?return_to=${encodeURIComponent(bad)}` });
        assert.equal(res.statusCode, 400, bad);
        assert.equal(res.json().field, 'return_to');
        assert.equal(res.headers.location, undefined);
      }
    } finally {
      await secure.close();
    }
  });

  it('a provider error on the callback is 400 with its code only, and creates nothing', async () => {
    const before = await counts();
    const flow = await walkToCallback('/cp/auth/login', 'deny');
    assert.equal(flow.callbackUrl.searchParams.get('error'), 'access_denied');
    const res = await flow.browser.get(flow.callbackUrl);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      error: 'the sign-in was cancelled or refused at the identity provider',
      code: 'IDENTITY_PROVIDER_DENIED',
      provider_error: 'access_denied',
      request_id: res.headers.get('x-request-id'),
    });
    assert.equal(res.headers.getSetCookie().some((c) => c.startsWith('mcp_session=')), false);
    assert.deepEqual(await counts(), before, 'the state was consumed, nothing else written');

    // Free text from the provider is never echoed.
    const begun = await new TestBrowser().get(`${site}/cp/auth/login`);
    const state = new URL(begun.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const odd = await fetch(`${site}/cp/auth/callback?state=${state}&error=%3Cscript%3E&error_description=${encodeURIComponent('<b>pwned</b>')}`, {
      redirect: 'manual',
      headers: { cookie: `${OIDC_STATE_COOKIE}=${state}` },
    });
    assert.equal(odd.status, 400);
    const text = await odd.text();
    assert.equal(JSON.parse(text).provider_error, 'unknown_error');
    assert.equal(text.includes('script') || text.includes('pwned'), false);
  });

  it('a failed code exchange is 502 IDENTITY_PROVIDER_FAILED', async () => {
    const { sub } = account();
    const flow = await walkToCallback('/cp/auth/login', sub);
    const bad = new URL(flow.callbackUrl);
    bad.searchParams.set('code', 'not-a-code-the-provider-issued');
    const before = await counts();
    const res = await flow.browser.get(bad);
    assert.equal(res.status, 502);
    const body = (await res.json()) as { code: string; error: string };
    assert.equal(body.code, 'IDENTITY_PROVIDER_FAILED');
    assert.match(body.error, /^sign-in with the identity provider failed/);
    assert.deepEqual(await counts(), { ...before, states: before.states - 1 });
  });

  it('a provider that shares no email gets 502 and no account', async () => {
    const sub = `acct-${randomBytes(5).toString('hex')}`;
    op.accounts.set(sub, { name: 'No Email' });
    const before = await counts();
    const flow = await walkToCallback('/cp/auth/login', sub);
    const res = await flow.browser.get(flow.callbackUrl);
    assert.equal(res.status, 502);
    const body = (await res.json()) as { code: string; error: string };
    assert.equal(body.code, 'IDENTITY_PROVIDER_FAILED');
    assert.match(body.error, /did not share an email address/);
    assert.deepEqual(await counts(), before);
  });

  it('unknown provider → 404; a CP without OpenID Connect answers 404 on the OIDC routes', async () => {
    const res = await fetch(`${site}/cp/auth/login?provider=github`, { redirect: 'manual' });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { code: string; error: string };
    assert.equal(body.code, 'IDENTITY_PROVIDER_NOT_FOUND');
    assert.equal(body.error, 'identity provider not configured: github');
    assert.equal(res.headers.get('location'), null);

    const plain = await startTestControlPlane(kind);
    try {
      for (const url of ['/cp/auth/login', '/api/v1/auth/login?return_to=/x', '/cp/auth/signup', '/cp/auth/callback?code=x&state=y']) {
        const r = await plain.app.inject({ method: 'GET', url });
        assert.equal(r.statusCode, 404, url);
        assert.equal(r.json().code, 'IDENTITY_PROVIDER_NOT_FOUND', url);
      }
      // POST /auth/login on the same path is still password sign-in.
      const pw = await plain.app.inject({ method: 'POST', url: '/cp/auth/login', payload: { email: 'nobody@example.com', password: 'x' } });
      assert.equal(pw.statusCode, 401);
    } finally {
      await plain.close();
    }
  });

  it('an existing account is never joined by email (no takeover): a verified one keeps its address whatever the provider says', async () => {
    const local = await cp.signup({ email: `owner-${randomBytes(4).toString('hex')}@example.com`, verifyEmail: true });
    const before = await counts();

    for (const verified of [false, true]) {
      const claimant = account({ email: verified ? local.email : local.email.toUpperCase(), email_verified: verified });
      const refused = await walkToCallback('/cp/auth/login', claimant.sub);
      const res = await refused.browser.get(refused.callbackUrl);
      assert.equal(res.status, 409, `email_verified: ${verified}`);
      const body = (await res.json()) as { code: string; error: string };
      assert.equal(body.code, 'EMAIL_TAKEN');
      assert.match(body.error, /never joined by email/);
      assert.equal(res.headers.getSetCookie().some((c) => c.startsWith('mcp_session=')), false);
      assert.deepEqual(await counts(), before);
    }
    const linkedToLocal = await cp.db.selectFrom('user_identities').selectAll().where('user_id', '=', local.userId).execute();
    assert.deepEqual(linkedToLocal, []);

    // An email nobody has yet is a new account of its own, whether or not the provider verified it.
    const fresh = account({ email_verified: false });
    const created = await signIn('/cp/auth/login', fresh.sub);
    const freshMe = (await (await fetch(`${site}/cp/auth/me`, { headers: { cookie: created.cookie } })).json()) as { user_id: string; email: string };
    assert.notEqual(freshMe.user_id, local.userId);
    assert.equal(freshMe.email, fresh.email);

    // The password account still works.
    const pw = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: local.email, password: local.password } });
    assert.equal(pw.statusCode, 200);
    assert.equal(pw.json().user_id, local.userId);
  });

  /** An org of a fresh owner with a pending invitation bound to `email`. */
  async function invitationFor(email: string) {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const res = await cp.app.inject({ method: 'POST', url: `/api/v1/orgs/${org.slug}/members/invitations`, headers: cp.as(owner), payload: { email } });
    assert.equal(res.statusCode, 201, res.body);
    return { org, token: (res.json() as { invite_token: string }).invite_token };
  }

  const accept = (cookie: string, token: string) => cp.app.inject({ method: 'POST', url: '/api/v1/invitations/accept', headers: { cookie }, payload: { token } });
  const me = async (cookie: string) => {
    const res = await cp.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie } });
    return { status: res.statusCode, body: res.json() as { user_id: string; email: string; email_verified: boolean } };
  };

  it('a verified OpenID identity reclaims the address of an unverified local account: renamed, signed out, its links void; nothing joined', async () => {
    const email = `victim-${randomBytes(4).toString('hex')}@example.com`;
    const invitation = await invitationFor(email);
    // Someone signs up with the address first and never proves it; they own an org of their own.
    const squatter = await cp.signup({ email });
    const squatterOrg = await cp.createOrg(squatter);
    const squatterLink = cp.verificationToken(email);
    const refusedBefore = await accept(squatter.cookie, invitation.token);
    assert.equal(refusedBefore.statusCode, 403, refusedBefore.body);
    assert.equal(refusedBefore.json().code, 'EMAIL_NOT_VERIFIED');

    // The address's real owner signs in through a provider that verified it.
    const owner = account({ email: email.toUpperCase(), email_verified: true });
    const signedIn = await signIn('/cp/auth/login', owner.sub);
    const ownerMe = await me(signedIn.cookie);
    assert.equal(ownerMe.status, 200);
    assert.notEqual(ownerMe.body.user_id, squatter.userId, 'a new account: nothing is joined');
    assert.equal(ownerMe.body.email, email);
    assert.equal(ownerMe.body.email_verified, true);

    // The unverified account: its sessions revoked, its address replaced, its pending link gone; it keeps its org.
    assert.equal((await me(squatter.cookie)).status, 401);
    const row = await cp.db.selectFrom('users').select(['email', 'email_verified_at']).where('id', '=', squatter.userId).executeTakeFirstOrThrow();
    assert.deepEqual(row, { email: `${squatter.userId.toLowerCase()}@reclaimed.invalid`, email_verified_at: null });
    assert.deepEqual(await cp.db.selectFrom('email_verifications').select('token_hash').where('user_id', '=', squatter.userId).execute(), []);
    const kept = await cp.db.selectFrom('org_members').select('role').where('org_id', '=', squatterOrg.id).where('user_id', '=', squatter.userId).executeTakeFirst();
    assert.deepEqual(kept, { role: 'owner' });
    // Its password opens only its own (renamed) account, never the reclaimed address's.
    const asVictim = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: squatter.password } });
    assert.equal(asVictim.statusCode, 401);
    const asItself = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: row.email, password: squatter.password } });
    assert.equal(asItself.statusCode, 200, asItself.body);
    assert.equal(asItself.json().user_id, squatter.userId);
    assert.equal(asItself.json().email_verified, false);
    const staleLink = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', headers: { cookie: cookieFrom(asItself.headers['set-cookie']) }, payload: { token: squatterLink } });
    assert.equal(staleLink.statusCode, 400);
    assert.equal(staleLink.json().code, 'EMAIL_VERIFICATION_INVALID');

    // The invitation bound to the address is the verified owner's to accept.
    const accepted = await accept(signedIn.cookie, invitation.token);
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.equal(accepted.json().organization.slug, invitation.org.slug);

    // One line in the log says so, naming both accounts and no address or credential.
    const lines = cp.logs().filter((l) => l['from_user_id'] === squatter.userId);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['to_user_id'], ownerMe.body.user_id);
    assert.equal(JSON.stringify(lines[0]).includes(email), false);
  });

  it('an unverified provider email (email_verified: false) counts for nothing: it reclaims nothing and accepts no email-bound invitation', async () => {
    // It cannot take an unverified local account's address either.
    const local = await cp.signup({ email: `local-${randomBytes(4).toString('hex')}@example.com` });
    const before = await counts();
    const claimant = account({ email: local.email, email_verified: false });
    const refused = await walkToCallback('/cp/auth/login', claimant.sub);
    const res = await refused.browser.get(refused.callbackUrl);
    assert.equal(res.status, 409);
    assert.equal(((await res.json()) as { code: string }).code, 'EMAIL_TAKEN');
    assert.deepEqual(await counts(), before);
    assert.equal((await me(local.cookie)).status, 200, 'the local account is untouched');

    // A new account from an unverified provider email starts unverified.
    const { sub, email } = account({ email_verified: false });
    const invitation = await invitationFor(email);
    const first = await signIn('/cp/auth/login', sub);
    assert.equal((await me(first.cookie)).body.email_verified, false);
    const refusedAccept = await accept(first.cookie, invitation.token);
    assert.equal(refusedAccept.statusCode, 403, refusedAccept.body);
    assert.equal(refusedAccept.json().code, 'EMAIL_NOT_VERIFIED');
    // Absent is not verified either.
    const { sub: silentSub } = account({ email_verified: undefined });
    const silent = await signIn('/cp/auth/login', silentSub);
    assert.equal((await me(silent.cookie)).body.email_verified, false);

    // Once the provider vouches for the address, the next sign-in of the same identity verifies it.
    op.accounts.set(sub, { ...op.accounts.get(sub), email_verified: true });
    const second = await signIn('/cp/auth/login', sub);
    assert.equal((await me(second.cookie)).body.email_verified, true);
    const accepted = await accept(second.cookie, invitation.token);
    assert.equal(accepted.statusCode, 200, accepted.body);
  });

  it('marks /cp/* responses deprecated (Deprecation, Sunset) and /api/v1/* ones not', async () => {
    const legacy = await fetch(`${site}/cp/auth/login`, { redirect: 'manual' });
    const stable = await fetch(`${site}/api/v1/auth/login`, { redirect: 'manual' });
    assert.equal(legacy.status, 302);
    assert.equal(stable.status, 302);
    assert.match(legacy.headers.get('deprecation') ?? '', /^@\d+$/);
    assert.match(legacy.headers.get('sunset') ?? '', /GMT$/);
    assert.equal(legacy.headers.get('link'), '</api/v1/auth/login>; rel="successor-version"');
    assert.equal(stable.headers.get('deprecation'), null);
    assert.equal(stable.headers.get('sunset'), null);
  });

  it('boots while the issuer is down, answers 502, and discovers it once it is up', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const early = await startTestControlPlane(kind, { env: { OIDC_ISSUER_URL: issuer, OIDC_CLIENT_ID: 'late-client', OIDC_CLIENT_SECRET: 'late-secret' } });
    let late: TestOidcProvider | undefined;
    try {
      const down = await early.app.inject({ method: 'GET', url: '/api/v1/auth/login' });
      assert.equal(down.statusCode, 502);
      assert.deepEqual(
        { code: down.json().code, error: down.json().error },
        { code: 'IDENTITY_PROVIDER_FAILED', error: 'the identity provider is unreachable; try again shortly' },
      );
      assert.equal(down.headers.location, undefined);
      late = await startTestOidcProvider({ redirectUris: ['http://localhost:8080/api/v1/auth/callback'], port });
      // A failure is remembered briefly so a dead issuer is not asked on every click; then it is asked again.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const up = await early.app.inject({ method: 'GET', url: '/api/v1/auth/login' });
      assert.equal(up.statusCode, 302, up.body);
      assert.equal(new URL(String(up.headers.location)).origin, issuer);
    } finally {
      await early.close();
      await late?.close();
    }
  });
});
