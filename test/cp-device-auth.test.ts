/**
 * Device authorization for the `molecule` CLI (issue 13, RFC 8628), server side: POST /auth/device/code, the polling
 * POST /auth/device/token, the console's JSON routes (GET /auth/device/pending, POST /auth/device/approve) and the no-JS
 * approval page (`/device/form`) with its sign-in form — over real HTTP on loopback, on both
 * databases. The session the flow hands out must work like any other (GET /auth/me, the tenant-member check), the
 * page must refuse cross-site and origin-less forms, guessing user codes is rate limited, and the database never holds
 * a plaintext code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashCredential } from '../src/core/credentials/format.js';
import { sweepSessions } from '../src/control-plane/auth/sessions.js';
import { forEachDatabase } from './harness.js';
import { cookieFrom, startTestControlPlane, type TestControlPlane, type TestUser } from './cp-harness.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_CODE_RE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

interface IssuedCode {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

forEachDatabase('control plane: device authorization (RFC 8628)', (kind) => {
  let cp: TestControlPlane;
  /** The CP's public origin: what a browser on the approval page sends as Origin. */
  let origin: string;

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
    origin = new URL(cp.config.PUBLIC_URL ?? `http://localhost:${cp.config.PORT}`).origin;
  });
  after(() => cp.close());

  async function http(method: 'GET' | 'POST', path: string, opts: { headers?: Record<string, string>; json?: unknown; form?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form).toString();
    }
    const res = await fetch(`${cp.url}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
  }

  async function requestCode(clientName = 'cli:build-host-1'): Promise<IssuedCode> {
    const res = await http('POST', '/api/v1/auth/device/code', { json: { client_name: clientName } });
    assert.equal(res.status, 200, res.text);
    return res.json<IssuedCode>();
  }

  const poll = (deviceCode: string, grantType = GRANT) => http('POST', '/api/v1/auth/device/token', { json: { device_code: deviceCode, grant_type: grantType } });

  /** Lets the next poll through without waiting out the interval: the previous poll is forgotten. */
  async function allowNextPoll(deviceCode: string) {
    const { hashDeviceCode } = await import('../src/control-plane/device-auth/codes.js');
    await cp.db.updateTable('device_authorizations').set({ last_polled_at: null }).where('device_code_hash', '=', hashDeviceCode(deviceCode)).execute();
  }

  async function rowOf(deviceCode: string) {
    const { hashDeviceCode } = await import('../src/control-plane/device-auth/codes.js');
    return cp.db.selectFrom('device_authorizations').selectAll().where('device_code_hash', '=', hashDeviceCode(deviceCode)).executeTakeFirst();
  }

  function assertDeviceError(res: Answer, error: string, code: string) {
    assert.equal(res.status, 400, res.text);
    const body = res.json();
    assert.equal(body['error'], error, res.text);
    assert.equal(body['code'], code, res.text);
    assert.equal(body['request_id'], res.headers.get('x-request-id'));
    return body;
  }

  function assertHtml(res: Answer, status: number, title: string) {
    assert.equal(res.status, status, res.text.slice(0, 600));
    assert.match(String(res.headers.get('content-type')), /^text\/html/);
    assert.ok(res.text.includes(`<h1>${title}</h1>`), `titled "${title}": ${res.text.slice(0, 600)}`);
    const csp = String(res.headers.get('content-security-policy'));
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /script-src|unsafe-inline/);
    assert.equal(res.text.includes('<script'), false, 'no script on the page');
  }

  const decide = (user: TestUser, form: Record<string, string>, headers: Record<string, string> = { origin }) =>
    http('POST', '/device', { headers: { cookie: user.cookie, ...headers }, form });

  it('full flow: code → pending → the page shows the code and the orgs → approve → a session that works on /auth/me and the tenant-member check; single use', async () => {
    const code = await requestCode();
    assert.match(code.device_code, /^[A-Za-z0-9_-]{43,}$/, 'base64url, at least 32 bytes');
    assert.match(code.user_code, USER_CODE_RE);
    assert.equal(code.verification_uri, `${origin}/device`);
    assert.equal(code.verification_uri_complete, `${origin}/device?user_code=${code.user_code}`);
    assert.equal(code.expires_in, 900);
    assert.equal(code.interval, 5);

    assertDeviceError(await poll(code.device_code), 'authorization_pending', 'DEVICE_AUTHORIZATION_PENDING');

    const user = await cp.signup();
    const org = await cp.createOrg(user, { name: 'Device Org' });
    const other = await cp.createOrg(await cp.signup());
    // The verification URI is the console's page; the no-JS form at /device/form shows the same request.
    const page = await http('GET', `/device/form${new URL(code.verification_uri_complete).search}`, { headers: { cookie: user.cookie } });
    assertHtml(page, 200, 'Connect a device');
    assert.ok(page.text.includes(code.user_code), 'the page shows the code');
    assert.ok(page.text.includes('cli:build-host-1'), "the page names the requesting client");
    assert.ok(page.text.includes(`<option value="${org.slug}">`), "the user's org is offered");
    assert.equal(page.text.includes(other.slug), false, "another user's org is not");
    assert.ok(page.text.includes('value="approve"') && page.text.includes('value="deny"'));

    const approved = await decide(user, { user_code: code.user_code, decision: 'approve', org_slug: org.slug });
    assertHtml(approved, 200, 'Device approved');
    assert.ok(approved.text.includes('cli:build-host-1') && approved.text.includes(org.slug), approved.text);

    await allowNextPoll(code.device_code);
    const granted = await poll(code.device_code);
    assert.equal(granted.status, 200, granted.text);
    const token = granted.json<{ access_token: string; token_type: string; expires_in: number; org_slug: string | null; user: { id: string; email: string } }>();
    assert.match(token.access_token, /^mols_[0-9A-Za-z]+$/);
    assert.deepEqual(
      { ...token, access_token: 'x' },
      { access_token: 'x', token_type: 'session', expires_in: cp.config.SESSION_TTL_HOURS * 3600, org_slug: org.slug, user: { id: user.userId, email: user.email } },
    );
    assert.equal(granted.headers.get('set-cookie'), null, 'the token goes in the body, not a cookie');

    const session = `mcp_session=${token.access_token}`;
    const me = await http('GET', '/api/v1/auth/me', { headers: { cookie: session } });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json()['user_id'], user.userId);
    const member = await http('GET', `/api/v1/auth/tenant-member?slug=${org.slug}`, { headers: { cookie: session } });
    assert.equal(member.status, 200, member.text);
    assert.deepEqual(member.json(), { member: true, user_id: user.userId, role: 'owner', org_id: org.id, slug: org.slug });

    // Stored as a hash, like every session.
    const rows = await cp.db.selectFrom('sessions').select(['token_hash', 'user_id']).where('token_hash', '=', hashCredential(token.access_token)).execute();
    assert.deepEqual(rows, [{ token_hash: hashCredential(token.access_token), user_id: user.userId }]);

    // Single use: the code is gone.
    await allowNextPoll(code.device_code);
    assertDeviceError(await poll(code.device_code), 'expired_token', 'DEVICE_CODE_EXPIRED');
    assert.equal(await rowOf(code.device_code), undefined);
  });

  it('slow_down when polled sooner than the interval; each one adds 5 s; a poll after the interval is pending again', async () => {
    const code = await requestCode();
    assertDeviceError(await poll(code.device_code), 'authorization_pending', 'DEVICE_AUTHORIZATION_PENDING');
    assert.equal(assertDeviceError(await poll(code.device_code), 'slow_down', 'DEVICE_SLOW_DOWN')['interval'], 10);
    assert.equal(assertDeviceError(await poll(code.device_code), 'slow_down', 'DEVICE_SLOW_DOWN')['interval'], 15);
    assert.equal((await rowOf(code.device_code))?.interval_seconds, 15);
    await allowNextPoll(code.device_code);
    assertDeviceError(await poll(code.device_code), 'authorization_pending', 'DEVICE_AUTHORIZATION_PENDING');
  });

  it('deny → access_denied, and no session is ever handed out for that code', async () => {
    const code = await requestCode();
    const user = await cp.signup();
    const sessionsBefore = (await cp.db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).execute()).length;
    assertHtml(await decide(user, { user_code: code.user_code, decision: 'deny', org_slug: '' }), 200, 'Device denied');
    assertDeviceError(await poll(code.device_code), 'access_denied', 'DEVICE_ACCESS_DENIED');
    await allowNextPoll(code.device_code);
    assertDeviceError(await poll(code.device_code), 'access_denied', 'DEVICE_ACCESS_DENIED');
    assert.equal((await cp.db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).execute()).length, sessionsBefore);
    // A decided code cannot be decided again.
    const again = await decide(user, { user_code: code.user_code, decision: 'approve' });
    assertHtml(again, 400, 'Connect a device');
    assert.equal((await rowOf(code.device_code))?.status, 'denied');
  });

  it('an expired code → expired_token (even approved), and the page no longer accepts it', async () => {
    const code = await requestCode();
    const user = await cp.signup();
    assertHtml(await decide(user, { user_code: code.user_code, decision: 'approve' }), 200, 'Device approved');
    const { hashDeviceCode } = await import('../src/control-plane/device-auth/codes.js');
    await cp.db.updateTable('device_authorizations').set({ expires_at: new Date(Date.now() - 1000) }).where('device_code_hash', '=', hashDeviceCode(code.device_code)).execute();
    assertDeviceError(await poll(code.device_code), 'expired_token', 'DEVICE_CODE_EXPIRED');

    const pending = await requestCode();
    await cp.db.updateTable('device_authorizations').set({ expires_at: new Date(Date.now() - 1000) }).where('device_code_hash', '=', hashDeviceCode(pending.device_code)).execute();
    const page = await http('GET', `/device/form?user_code=${pending.user_code}`, { headers: { cookie: user.cookie } });
    assertHtml(page, 400, 'Connect a device');
    assert.ok(page.text.includes('this code is unknown, expired or already used'), page.text);
    assertHtml(await decide(user, { user_code: pending.user_code, decision: 'approve' }), 400, 'Connect a device');
    assert.equal((await rowOf(pending.device_code))?.status, 'pending');
  });

  it('an unknown device code → expired_token; a wrong grant_type → 400 VALIDATION_FAILED naming it; bad client names are refused', async () => {
    assertDeviceError(await poll('A'.repeat(43)), 'expired_token', 'DEVICE_CODE_EXPIRED');
    const code = await requestCode();
    const bad = await poll(code.device_code, 'authorization_code');
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json()['code'], 'VALIDATION_FAILED');
    assert.match(String(bad.json()['error']), /grant_type/);
    assert.equal((await rowOf(code.device_code))?.last_polled_at, null, 'a refused request is no poll');
    for (const client_name of ['', 'x'.repeat(101), 'cli:\u0007bell']) {
      const res = await http('POST', '/api/v1/auth/device/code', { json: { client_name } });
      assert.equal(res.status, 400, res.text);
      assert.match(String(res.json()['error']), /client_name/);
    }
  });

  it('CSRF: a decision without Origin/Referer, or from another origin, is 403 and approves nothing; a same-origin Referer is accepted', async () => {
    const code = await requestCode();
    const user = await cp.signup();
    const refusedHeaders: Array<Record<string, string>> = [{}, { origin: 'https://evil.example' }, { referer: 'https://evil.example/device' }, { origin: 'null' }];
    for (const headers of refusedHeaders) {
      const res = await decide(user, { user_code: code.user_code, decision: 'approve' }, headers);
      assertHtml(res, 403, 'Request refused');
      assert.equal((await rowOf(code.device_code))?.status, 'pending', JSON.stringify(headers));
    }
    // Without the session cookie: 401, nothing approved.
    const anonymous = await http('POST', '/device', { headers: { origin }, form: { user_code: code.user_code, decision: 'approve' } });
    assertHtml(anonymous, 401, 'Sign in required');
    assert.equal((await rowOf(code.device_code))?.status, 'pending');

    assertHtml(await decide(user, { user_code: code.user_code, decision: 'approve' }, { referer: `${origin}/device?user_code=${code.user_code}` }), 200, 'Device approved');
    assert.equal((await rowOf(code.device_code))?.status, 'approved');
  });

  it('a wrong or malformed user code gets the page again with a message (4xx); an org the user is not in → 404, nothing approved', async () => {
    const user = await cp.signup();
    for (const wrong of ['ZZZZ-ZZZZ', 'AAAA-AAAA', 'bcd']) {
      const page = await http('GET', `/device/form?user_code=${encodeURIComponent(wrong)}`, { headers: { cookie: user.cookie } });
      assertHtml(page, 400, 'Connect a device');
      assert.ok(page.text.includes('this code is unknown, expired or already used'), page.text);
      assert.ok(page.text.includes('name="user_code"'), 'the code field again');
    }
    const post = await decide(user, { user_code: 'ZZZZ-ZZZZ', decision: 'approve' });
    assertHtml(post, 400, 'Connect a device');
    assert.ok(post.text.includes('this code is unknown, expired or already used'));
    const malformed = await decide(user, { user_code: 'not-a-code', decision: 'approve' });
    assertHtml(malformed, 400, 'Invalid request');
    assert.ok(malformed.text.includes('user_code'));

    // Lower case and a space instead of the dash are the same code.
    const code = await requestCode();
    const typed = code.user_code.toLowerCase().replace('-', ' ');
    const shown = await http('GET', `/device/form?user_code=${encodeURIComponent(typed)}`, { headers: { cookie: user.cookie } });
    assertHtml(shown, 200, 'Connect a device');
    assert.ok(shown.text.includes(code.user_code));

    const foreign = await cp.createOrg(await cp.signup());
    const refused = await decide(user, { user_code: code.user_code, decision: 'approve', org_slug: foreign.slug });
    assertHtml(refused, 404, 'Connect a device');
    assert.ok(refused.text.includes(`org ${foreign.slug} not found among your organizations`), refused.text);
    assert.equal((await rowOf(code.device_code))?.status, 'pending');
  });

  it('without a session the page shows a sign-in form; signing in there sets the cookie and comes back to the code', async () => {
    const code = await requestCode();
    const user = await cp.signup();
    const page = await http('GET', `/device/form?user_code=${code.user_code}`);
    assertHtml(page, 401, 'Sign in required');
    assert.ok(page.text.includes('action="/device/sign-in"'), page.text);
    assert.ok(page.text.includes(`name="user_code" value="${code.user_code}"`), 'the code rides along');
    assert.ok(page.text.includes('type="password"'));
    assert.equal(page.text.includes('value="approve"'), false, 'no decision without a session');

    const wrong = await http('POST', '/device/sign-in', { headers: { origin }, form: { email: user.email, password: 'not-the-password', user_code: code.user_code } });
    assertHtml(wrong, 401, 'Sign in required');
    assert.ok(wrong.text.includes('invalid email or password'));
    assert.equal(wrong.headers.get('set-cookie'), null);

    const noOrigin = await http('POST', '/device/sign-in', { form: { email: user.email, password: user.password, user_code: code.user_code } });
    assertHtml(noOrigin, 403, 'Request refused');
    assert.equal(noOrigin.headers.get('set-cookie'), null, 'login CSRF: no session from a form of unknown origin');

    const signedIn = await http('POST', '/device/sign-in', { headers: { origin }, form: { email: user.email, password: user.password, user_code: code.user_code } });
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.equal(signedIn.headers.get('location'), `/device/form?user_code=${code.user_code}`);
    const cookie = cookieFrom(signedIn.headers.getSetCookie());
    const back = await http('GET', String(signedIn.headers.get('location')), { headers: { cookie } });
    assertHtml(back, 200, 'Connect a device');
    assert.ok(back.text.includes(code.user_code) && back.text.includes('value="approve"'));
    assert.equal((await http('GET', '/api/v1/auth/me', { headers: { cookie } })).json()['user_id'], user.userId);
  });

  it('the database holds no plaintext device or user code', async () => {
    const code = await requestCode('cli:plaintext-check');
    const user = await cp.signup();
    await decide(user, { user_code: code.user_code, decision: 'approve' });
    const rows = await cp.db.selectFrom('device_authorizations').selectAll().execute();
    assert.ok(rows.some((r) => r.client_name === 'cli:plaintext-check'), 'the row is there');
    const dump = JSON.stringify(rows);
    for (const secret of [code.device_code, code.user_code, code.user_code.replace('-', '')]) assert.equal(dump.includes(secret), false, `no ${secret} at rest`);
  });

  it('/device on the CP host is the console’s page even with an org routing header (the edge never proxies it)', async () => {
    const org = await cp.createOrg(await cp.signup());
    const res = await http('GET', '/device', { headers: { 'x-molecule-org-slug': org.slug } });
    // The SPA's page (503 CONSOLE_NOT_BUILT when the suite runs without `npm run build:web`), never the tenant's answer.
    assert.ok(res.status === 200 || (res.status === 503 && res.json()['code'] === 'CONSOLE_NOT_BUILT'), `${res.status} ${res.text}`);
    const form = await http('GET', '/device/form', { headers: { 'x-molecule-org-slug': org.slug } });
    assertHtml(form, 401, 'Sign in required');
  });

  it('the console’s JSON routes: pending shows what asks (never the device code); approve and deny decide it once; tenant origins are refused', async () => {
    const user = await cp.signup();
    const org = await cp.createOrg(user);
    const code = await requestCode('cli:json-route');
    const jsonAs = (method: 'GET' | 'POST', url: string, json?: unknown, headers: Record<string, string> = {}) =>
      http(method, url, { headers: { cookie: user.cookie, ...headers }, ...(json === undefined ? {} : { json }) });
    const anonymous = await http('GET', `/api/v1/auth/device/pending?user_code=${code.user_code}`);
    assert.equal(anonymous.status, 401, anonymous.text);
    const typed = code.user_code.toLowerCase().replace('-', ' ');
    const pending = await jsonAs('GET', `/api/v1/auth/device/pending?user_code=${encodeURIComponent(typed)}`);
    assert.equal(pending.status, 200, pending.text);
    assert.equal(pending.json()['user_code'], code.user_code);
    assert.equal(pending.json()['client_name'], 'cli:json-route');
    assert.ok(Date.parse(String(pending.json()['expires_at'])) > Date.now());
    assert.equal(pending.text.includes(code.device_code), false, 'never the device code');
    for (const wrong of ['ZZZZ-ZZZZ', 'BBBB-BBBB']) {
      const res = await jsonAs('GET', `/api/v1/auth/device/pending?user_code=${wrong}`);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json()['code'], 'DEVICE_USER_CODE_INVALID');
    }
    const malformed = await jsonAs('GET', '/api/v1/auth/device/pending?user_code=nope');
    assert.equal(malformed.json()['code'], 'VALIDATION_FAILED');

    // A tenant host (same site, allowed for other session writes) may not approve: the approval hands out a session.
    const fromTenant = await jsonAs('POST', '/api/v1/auth/device/approve', { user_code: code.user_code, decision: 'approve' }, { origin: `http://${org.slug}.localhost:${new URL(origin).port || '80'}` });
    assert.equal(fromTenant.status, 403, fromTenant.text);
    assert.equal(fromTenant.json()['code'], 'ORIGIN_FORBIDDEN');
    const foreign = await cp.createOrg(await cp.signup());
    const notMine = await jsonAs('POST', '/api/v1/auth/device/approve', { user_code: code.user_code, decision: 'approve', org_slug: foreign.slug }, { origin });
    assert.equal(notMine.status, 404, notMine.text);
    assert.equal((await rowOf(code.device_code))?.status, 'pending');

    const approved = await jsonAs('POST', '/api/v1/auth/device/approve', { user_code: code.user_code, decision: 'approve', org_slug: org.slug }, { origin });
    assert.equal(approved.status, 200, approved.text);
    assert.deepEqual(approved.json(), { user_code: code.user_code, decision: 'approve', client_name: 'cli:json-route', org_slug: org.slug });
    const again = await jsonAs('POST', '/api/v1/auth/device/approve', { user_code: code.user_code, decision: 'deny' }, { origin });
    assert.equal(again.json()['code'], 'DEVICE_USER_CODE_INVALID', 'decided once');
    const token = await poll(code.device_code);
    assert.equal(token.status, 200, token.text);
    assert.equal(token.json()['org_slug'], org.slug);

    const denied = await requestCode('cli:json-deny');
    const deny = await jsonAs('POST', '/api/v1/auth/device/approve', { user_code: denied.user_code, decision: 'deny', org_slug: org.slug });
    assert.equal(deny.status, 200, deny.text);
    assert.equal(deny.json()['org_slug'], null);
    assertDeviceError(await poll(denied.device_code), 'access_denied', 'DEVICE_ACCESS_DENIED');
  });

  it('the session sweep deletes expired device authorizations, and only those', async () => {
    const live = await requestCode();
    const old = await requestCode();
    const { hashDeviceCode } = await import('../src/control-plane/device-auth/codes.js');
    await cp.db.updateTable('device_authorizations').set({ expires_at: new Date(Date.now() - 1000) }).where('device_code_hash', '=', hashDeviceCode(old.device_code)).execute();
    const swept = await sweepSessions(cp.db);
    assert.ok(swept.deviceAuthorizations >= 1, JSON.stringify(swept));
    assert.equal(await rowOf(old.device_code), undefined);
    assert.equal((await rowOf(live.device_code))?.status, 'pending');
  });

  describe('rate limits', () => {
    let limited: TestControlPlane;
    before(async () => {
      limited = await startTestControlPlane(kind, { env: { DEVICE_CODE_LIMIT: '2', DEVICE_VERIFY_LIMIT: '3', DEVICE_TOKEN_POLL_LIMIT: '3' } });
    });
    after(() => limited.close());

    it('guessing user codes: past DEVICE_VERIFY_LIMIT look-ups the page answers 429, even for a live code', async () => {
      const issued = await limited.app.inject({ method: 'POST', url: '/api/v1/auth/device/code', payload: { client_name: 'cli:limits' } });
      assert.equal(issued.statusCode, 200, issued.body);
      const live = (issued.json() as IssuedCode).user_code;
      const user = await limited.signup();
      for (const guess of ['BBBB-BBBB', 'CCCC-CCCC', 'DDDD-DDDD']) {
        const res = await limited.app.inject({ method: 'GET', url: `/device/form?user_code=${guess}`, headers: limited.as(user) });
        assert.equal(res.statusCode, 400, res.body);
      }
      const blocked = await limited.app.inject({ method: 'GET', url: `/device/form?user_code=${live}`, headers: limited.as(user) });
      assert.equal(blocked.statusCode, 429, blocked.body);
      assert.ok(blocked.body.includes('<h1>Too many attempts</h1>'), blocked.body);
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      const post = await limited.app.inject({
        method: 'POST',
        url: '/device',
        headers: { ...limited.as(user), 'content-type': 'application/x-www-form-urlencoded', origin: new URL(limited.config.PUBLIC_URL ?? `http://localhost:${limited.config.PORT}`).origin },
        payload: new URLSearchParams({ user_code: live, decision: 'approve' }).toString(),
      });
      assert.equal(post.statusCode, 429, 'a decision counts too');
      // The console's JSON routes share the budget: the same user is refused there too.
      const pending = await limited.app.inject({ method: 'GET', url: `/api/v1/auth/device/pending?user_code=${live}`, headers: limited.as(user) });
      assert.equal(pending.statusCode, 429, pending.body);
      assert.equal((pending.json() as { code: string }).code, 'RATE_LIMITED');
      const approve = await limited.app.inject({ method: 'POST', url: '/api/v1/auth/device/approve', headers: limited.as(user), payload: { user_code: live, decision: 'approve' } });
      assert.equal(approve.statusCode, 429, approve.body);
      const rows = await limited.db.selectFrom('device_authorizations').select('status').execute();
      assert.deepEqual(rows.map((r) => r.status), ['pending']);
    });

    it('device codes per client address (DEVICE_CODE_LIMIT) and token polls per client address (DEVICE_TOKEN_POLL_LIMIT) → 429 RATE_LIMITED', async () => {
      // One code was issued by the test above in this window.
      const second = await limited.app.inject({ method: 'POST', url: '/api/v1/auth/device/code', payload: { client_name: 'cli:limits' } });
      assert.equal(second.statusCode, 200, second.body);
      const third = await limited.app.inject({ method: 'POST', url: '/api/v1/auth/device/code', payload: { client_name: 'cli:limits' } });
      assert.equal(third.statusCode, 429, third.body);
      assert.equal((third.json() as { code: string }).code, 'RATE_LIMITED');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await limited.app.inject({ method: 'POST', url: '/api/v1/auth/device/token', payload: { device_code: 'B'.repeat(43), grant_type: GRANT } });
        statuses.push(res.statusCode);
      }
      assert.deepEqual(statuses, [400, 400, 400, 429]);
    });
  });
});
