/**
 * Email verification (issue 7, item 9): local sign-up never proved the address, yet an email-bound invitation
 * trusted it. Here: sign-up writes a verification link to the log (no mail transport is configured), only a
 * verified address satisfies an email-bound invitation, and the link is single-use, expiring, bound to the
 * account and to the address it was issued for. The OpenID Connect side (email_verified, reclaiming an unverified
 * address) is in test/cp-oidc.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { hashCredential, mintCredential } from '../src/core/credentials/format.js';
import { forEachDatabase } from './harness.js';
import { cookieFrom, startTestControlPlane, type TestControlPlane, type TestUser } from './cp-harness.js';

type Method = 'GET' | 'POST';

forEachDatabase('control plane: email verification', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { EMAIL_VERIFICATION_REQUEST_LIMIT: '3', EMAIL_VERIFICATION_TTL_HOURS: '2' } });
  });
  after(() => cp.close());

  function call(method: Method, url: string, user?: TestUser, payload?: unknown, headers: Record<string, string> = {}) {
    return cp.app.inject({ method, url, headers: { ...(user ? cp.as(user) : {}), ...headers }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  }

  async function me(user: TestUser) {
    const res = await call('GET', '/api/v1/auth/me', user);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { user_id: string; email: string; email_verified: boolean };
  }

  async function invite(owner: TestUser, slug: string, email: string | null) {
    const res = await call('POST', `/api/v1/orgs/${slug}/members/invitations`, owner, email === null ? {} : { email });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { id: string; invite_token: string };
  }

  /** Everything accepting an invitation or verifying could change. */
  async function state(userId: string) {
    const [members, invitations, user, links] = await Promise.all([
      cp.db.selectFrom('org_members').selectAll().orderBy('org_id').orderBy('user_id').execute(),
      cp.db.selectFrom('org_invitations').selectAll().orderBy('id').execute(),
      cp.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow(),
      cp.db.selectFrom('email_verifications').selectAll().where('user_id', '=', userId).orderBy('token_hash').execute(),
    ]);
    return JSON.stringify({ members, invitations, user, links });
  }

  function assertError(res: { statusCode: number; body: string; headers: Record<string, unknown> }, status: number, code: string) {
    assert.equal(res.statusCode, status, res.body);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(body['code'], code, res.body);
    assert.equal(typeof body['error'], 'string');
    assert.equal(body['request_id'], res.headers['x-request-id']);
    return body;
  }

  it('an unverified user cannot accept an email-bound invitation (403 EMAIL_NOT_VERIFIED, nothing changed); after the logged link they can', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const bob = await cp.signup();
    assert.equal((await me(bob)).email_verified, false);
    const inv = await invite(owner, org.slug, bob.email);

    const before = await state(bob.userId);
    for (const prefix of ['/api/v1', '/cp']) {
      const refused = await call('POST', `${prefix}/invitations/accept`, bob, { token: inv.invite_token });
      const body = assertError(refused, 403, 'EMAIL_NOT_VERIFIED');
      assert.match(String(body['error']), /verify/);
      assert.match(String(body['error']), /\/api\/v1\/auth\/verify-email\/request/);
      assert.equal(body['email'], bob.email);
    }
    assert.equal(await state(bob.userId), before, 'nothing changed: no membership, the invitation unused, the user unverified');

    // An open invitation (bound to no email) never needed a verified address.
    const open = await invite(owner, (await cp.createOrg(owner)).slug, null);
    assert.equal((await call('POST', '/api/v1/invitations/accept', bob, { token: open.invite_token })).statusCode, 200);

    // The link sign-up wrote to the log verifies the address; then the same invitation works.
    const verified = await call('POST', '/api/v1/auth/verify-email', bob, { token: cp.verificationToken(bob.email) });
    assert.equal(verified.statusCode, 200, verified.body);
    assert.deepEqual(verified.json(), { user_id: bob.userId, email: bob.email, email_verified: true });
    assert.equal((await me(bob)).email_verified, true);
    const ok = await call('POST', '/api/v1/invitations/accept', bob, { token: inv.invite_token });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().organization.slug, org.slug);
  });

  it('sign-up writes one structured, clearly marked log line with the link and no other credential; the token is hashed at rest', async () => {
    const user = await cp.signup({ email: `Logged-${Date.now()}@Example.com`, password: 'a password never logged' });
    const email = user.email.toLowerCase();
    const lines = cp.logs().filter((l) => l['mail'] === 'email-verification' && l['to'] === email);
    assert.equal(lines.length, 1, 'one line per link');
    const line = lines[0]!;
    assert.equal(line['level'], 40, 'logged as a warning: no mail was sent');
    assert.equal(line['delivery'], 'log');
    assert.equal(line['user_id'], user.userId);
    assert.match(String(line['msg']), /^MAIL NOT SENT \(MAIL_TRANSPORT=log\)/);
    const link = new URL(String(line['link']));
    assert.equal(`${link.origin}${link.pathname}`, 'http://localhost:8080/auth/confirm-email');
    const token = link.searchParams.get('token') ?? '';
    assert.match(token, /^molv_[0-9A-Za-z]{49}$/);
    assert.ok(Date.parse(String(line['expires_at'])) > Date.now() + 3600_000, 'EMAIL_VERIFICATION_TTL_HOURS=2');
    const text = JSON.stringify(line);
    for (const secret of [user.password, user.cookie.slice('mcp_session='.length)]) assert.equal(text.includes(secret), false);
    assert.equal(text.match(/mol[a-z]_/g)?.length, 1, 'the only credential on the line is the link’s token');
    // At rest: its hash, never the token.
    const rows = await cp.db.selectFrom('email_verifications').selectAll().where('user_id', '=', user.userId).execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.token_hash, hashCredential(token));
    assert.equal(rows[0]!.email, email);
    assert.equal(JSON.stringify(rows).includes(token), false);
    // Nothing else logged the token (the sign-up response certainly not).
    assert.equal(cp.logs().filter((l) => JSON.stringify(l).includes(token)).length, 1);
  });

  it('a token is single-use, expires, is refused for another user (and stays usable for its own), and dies with a changed address', async () => {
    const alice = await cp.signup();
    const mallory = await cp.signup();
    const token = cp.verificationToken(alice.email);
    const invalid = (res: Awaited<ReturnType<typeof call>>) => {
      const body = assertError(res, 400, 'EMAIL_VERIFICATION_INVALID');
      assert.match(String(body['error']), /request a new one/);
    };

    // Another user's session cannot use it, and nothing changes for either of them.
    const before = await state(alice.userId);
    invalid(await call('POST', '/api/v1/auth/verify-email', mallory, { token }));
    assert.equal(await state(alice.userId), before);
    assert.equal((await me(mallory)).email_verified, false);

    // Malformed, made-up, another class of credential: the same answer.
    for (const bad of ['nope', mintCredential('emailVerification').plaintext, mintCredential('session').plaintext, token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')]) {
      invalid(await call('POST', '/api/v1/auth/verify-email', alice, { token: bad }));
    }
    assert.equal(await state(alice.userId), before);

    // Its own user: once.
    assert.equal((await call('POST', '/api/v1/auth/verify-email', alice, { token })).statusCode, 200);
    invalid(await call('POST', '/cp/auth/verify-email', alice, { token }));

    // Expired: refused, and the address stays unverified.
    const carol = await cp.signup();
    await cp.db.updateTable('email_verifications').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', carol.userId).execute();
    invalid(await call('POST', '/api/v1/auth/verify-email', carol, { token: cp.verificationToken(carol.email) }));
    assert.equal((await me(carol)).email_verified, false);

    // Issued for an address the account no longer has (the address changed under it): refused, and gone for good.
    const dave = await cp.signup();
    const daveToken = cp.verificationToken(dave.email);
    await cp.db.updateTable('users').set({ email: `renamed-${dave.email}` }).where('id', '=', dave.userId).execute();
    invalid(await call('POST', '/api/v1/auth/verify-email', dave, { token: daveToken }));
    assert.equal((await me(dave)).email_verified, false);
    await cp.db.updateTable('users').set({ email: dave.email }).where('id', '=', dave.userId).execute();
    invalid(await call('POST', '/api/v1/auth/verify-email', dave, { token: daveToken }));
  });

  it('two verifications with the same token at the same moment: exactly one succeeds', async () => {
    const erin = await cp.signup();
    const token = cp.verificationToken(erin.email);
    const results = await Promise.all([0, 1].map(() => call('POST', '/api/v1/auth/verify-email', erin, { token })));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 400], results.map((r) => r.body).join(' | '));
  });

  it('asking again sends a fresh link and retires the old one; 409 once verified; rate-limited per user', async () => {
    const frank = await cp.signup();
    const first = cp.verificationToken(frank.email);
    const again = await call('POST', '/api/v1/auth/verify-email/request', frank, {});
    assert.equal(again.statusCode, 202, again.body);
    const body = again.json() as { email: string; expires_at: string };
    assert.equal(body.email, frank.email);
    assert.ok(Date.parse(body.expires_at) > Date.now());
    assert.equal(again.body.includes('molv_'), false, 'the link travels by mail (here: the log), never in the response');
    const second = cp.verificationToken(frank.email);
    assert.notEqual(second, first);
    assertError(await call('POST', '/api/v1/auth/verify-email', frank, { token: first }), 400, 'EMAIL_VERIFICATION_INVALID');

    // The limit is 3 per hour per user: two more, then 429 (no link is issued then).
    assert.equal((await call('POST', '/api/v1/auth/verify-email/request', frank, {})).statusCode, 202);
    assert.equal((await call('POST', '/cp/auth/verify-email/request', frank, {})).statusCode, 202);
    const latest = cp.verificationToken(frank.email);
    const limited = await call('POST', '/api/v1/auth/verify-email/request', frank, {});
    assertError(limited, 429, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(cp.verificationToken(frank.email), latest);
    // Another user has a limit of their own.
    const grace = await cp.signup();
    assert.equal((await call('POST', '/api/v1/auth/verify-email/request', grace, {})).statusCode, 202);

    assert.equal((await call('POST', '/api/v1/auth/verify-email', frank, { token: latest })).statusCode, 200);
    const done = assertError(await call('POST', '/api/v1/auth/verify-email/request', frank, {}), 409, 'EMAIL_ALREADY_VERIFIED');
    assert.equal(done['email'], frank.email);
    assert.equal(await cp.db.selectFrom('email_verifications').select('token_hash').where('user_id', '=', frank.userId).executeTakeFirst(), undefined, 'no live link is left');
  });

  it('the link’s page: GET shows a confirm form and changes nothing (a mail scanner may fetch it); the form’s POST verifies', async () => {
    const hana = await cp.signup();
    const token = cp.verificationToken(hana.email);
    const url = `/auth/confirm-email?token=${token}`;
    const before = await state(hana.userId);

    const page = await call('GET', url, hana);
    assert.equal(page.statusCode, 200, page.body);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<h1>Verify your email address<\/h1>/);
    assert.ok(page.body.includes(hana.email.toLowerCase()), 'the page names the address');
    // The form posts back to this very URL (no action attribute): the page never repeats the token.
    assert.match(page.body, /<form method="post"><button class="primary" type="submit">/);
    assert.equal(page.body.includes(token), false);
    // Fetched without a session (a scanner), or many times: nothing changes.
    const anonymous = await call('GET', url);
    assert.equal(anonymous.statusCode, 401);
    assert.match(anonymous.body, /<h1>Sign in required<\/h1>/);
    assert.equal(anonymous.body.includes(token), false, 'the sign-in prompt does not carry the token anywhere');
    assert.equal((await call('GET', url, hana)).statusCode, 200);
    assert.equal(await state(hana.userId), before);

    // Another user's browser: refused on the page too, nothing changed.
    const other = await cp.signup();
    const refused = await call('GET', url, other);
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /<h1>Verification link not usable<\/h1>/);
    const refusedPost = await call('POST', url, other, '', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(refusedPost.statusCode, 400);
    assert.equal(await state(hana.userId), before);

    // A cross-site form post is refused.
    const crossSite = await call('POST', url, hana, '', { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' });
    assert.equal(crossSite.statusCode, 403);
    assert.equal(await state(hana.userId), before);

    const confirmed = await call('POST', url, hana, '', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    assert.match(confirmed.body, /<h1>Email address verified<\/h1>/);
    assert.equal((await me(hana)).email_verified, true);
    const reused = await call('GET', url, hana);
    assert.equal(reused.statusCode, 400);
    assert.match(reused.body, /<h1>Verification link not usable<\/h1>/);
  });

  it('sign-in answers and /auth/me carry email_verified; a new session of a verified user says true at once', async () => {
    const ivy = await cp.signup({ verifyEmail: true });
    const login = await call('POST', '/api/v1/auth/login', undefined, { email: ivy.email, password: ivy.password });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().email_verified, true);
    assert.equal((await me({ ...ivy, cookie: cookieFrom(login.headers['set-cookie']) })).email_verified, true);
  });
});
