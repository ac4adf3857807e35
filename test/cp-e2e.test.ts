/**
 * The control plane as a real child process on loopback, tried as a new user would (the issue's "done when"): sign
 * up, accept terms, create an org, see it in the list and the export, invite a second user who accepts and sees it,
 * remove them, delete the org; the same through /cp/* with its deprecation headers; an admin lists and creates orgs
 * with the bearer; and every tenant credential bounces off.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { createScratchDatabase, forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { startBinary, type Child } from './support/binary.js';

interface Call {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of many shapes; each assertion names the fields it reads
  setCookie: string | null;
}

forEachDatabase('the control plane binary over real HTTP', (kind) => {
  const adminToken = `cp-admin-e2e-${Date.now()}-secret-value`;
  let child: Child;
  let tenant: TestTenant;
  let cleanup: () => Promise<void>;

  before(async () => {
    const env: Record<string, string> = { CP_ADMIN_API_TOKEN: adminToken, PASSWORD_HASH_COST: '12' };
    if (kind === 'postgres') {
      const scratch = await createScratchDatabase();
      env['DATABASE_URL'] = scratch.url;
      cleanup = () => scratch.drop();
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'molecule-cp-e2e-'));
      env['MOLECULE_DATA_DIR'] = dir;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    child = await startBinary('cp', env);
    tenant = await startTestTenant(kind);
  });
  after(async () => {
    if (child.proc.exitCode === null) {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
    await tenant.close();
    await cleanup();
  });

  async function call(method: string, url: string, opts: { cookie?: string; bearer?: string; body?: unknown } = {}): Promise<Call> {
    const headers: Record<string, string> = {};
    if (opts.cookie) headers['cookie'] = opts.cookie;
    if (opts.bearer) headers['authorization'] = `Bearer ${opts.bearer}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${child.url}${url}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await res.text();
    const setCookie = res.headers.get('set-cookie');
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null, setCookie: setCookie ? setCookie.split(';')[0]! : null };
  }

  it('a new user’s whole journey, a second member, the alias, the admin, and tenant credentials bouncing off', async () => {
    assert.deepEqual((await call('GET', '/health')).body, { service: 'molecule-cp', status: 'ok' });

    // Sign up, accept terms, create an org, see it in the list and in the export.
    const alice = await call('POST', '/cp/auth/signup', { body: { email: 'alice@example.com', password: 'alice password 1', name: 'Alice' } });
    assert.equal(alice.status, 201);
    const aliceCookie = alice.setCookie!;
    assert.match(aliceCookie, /^mcp_session=mols_/);
    assert.equal((await call('POST', '/api/v1/orgs', { cookie: aliceCookie, body: { slug: 'acme-e2e', name: 'Acme' } })).status, 412);
    assert.equal((await call('POST', '/cp/auth/accept-terms', { cookie: aliceCookie, body: {} })).status, 200);
    const created = await call('POST', '/api/v1/orgs', { cookie: aliceCookie, body: { slug: 'acme-e2e', name: 'Acme' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.status, 'provisioning');
    const list = await call('GET', '/api/v1/orgs', { cookie: aliceCookie });
    assert.deepEqual(list.body.map((o: { slug: string }) => o.slug), ['acme-e2e']);
    const exported = await call('GET', '/api/v1/orgs/acme-e2e/export', { cookie: aliceCookie });
    assert.equal(exported.status, 200);
    assert.equal(exported.body.organization.slug, 'acme-e2e');
    assert.equal(exported.body.exported_by, alice.body.user_id);

    // A second user is invited, accepts, sees the org; then is removed and loses it.
    const bob = await call('POST', '/api/v1/auth/signup', { body: { email: 'bob@example.com', password: 'bob password 12' } });
    const bobCookie = bob.setCookie!;
    assert.equal((await call('GET', '/api/v1/orgs/acme-e2e', { cookie: bobCookie })).status, 404);
    const invite = await call('POST', '/api/v1/orgs/acme-e2e/members/invitations', { cookie: aliceCookie, body: { email: 'bob@example.com', role: 'member' } });
    assert.equal(invite.status, 201, JSON.stringify(invite.body));
    assert.match(invite.body.invite_token, /^moli_/);
    // Bob's address is not verified yet: the invitation bound to it waits, unused.
    const unverified = await call('POST', '/api/v1/invitations/accept', { cookie: bobCookie, body: { token: invite.body.invite_token } });
    assert.equal(unverified.status, 403, JSON.stringify(unverified.body));
    assert.equal(unverified.body.code, 'EMAIL_NOT_VERIFIED');
    // No mail transport: the verification link is in the CP's log, one marked line; Bob follows it (page, then its form).
    const bobsLinks = () =>
      child
        .output()
        .split('\n')
        .filter((l) => l.includes('"mail":"email-verification"') && l.includes('"to":"bob@example.com"'));
    // The line is written before sign-up answers; reading the child's output may lag behind it.
    for (const deadline = Date.now() + 30_000; bobsLinks().length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const linkLines = bobsLinks();
    assert.equal(linkLines.length, 1, 'one logged link for Bob');
    const link = new URL(JSON.parse(linkLines[0]!).link);
    assert.match(JSON.parse(linkLines[0]!).msg, /^MAIL NOT SENT \(MAIL_TRANSPORT=log\)/);
    const page = await fetch(`${child.url}${link.pathname}${link.search}`, { headers: { cookie: bobCookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post">/);
    const confirm = await fetch(`${child.url}${link.pathname}${link.search}`, {
      method: 'POST',
      headers: { cookie: bobCookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(confirm.status, 200, await confirm.clone().text());
    assert.equal((await call('GET', '/api/v1/auth/me', { cookie: bobCookie })).body.email_verified, true);
    const accepted = await call('POST', '/api/v1/invitations/accept', { cookie: bobCookie, body: { token: invite.body.invite_token } });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.deepEqual((await call('GET', '/api/v1/orgs', { cookie: bobCookie })).body.map((o: { slug: string }) => o.slug), ['acme-e2e']);
    assert.deepEqual((await call('GET', '/cp/auth/tenant-member?slug=acme-e2e', { cookie: bobCookie })).body, {
      member: true,
      user_id: bob.body.user_id,
      role: 'member',
      org_id: created.body.id,
      slug: 'acme-e2e',
    });
    const members = await call('GET', '/api/v1/orgs/acme-e2e/members', { cookie: aliceCookie });
    assert.deepEqual(members.body.members.map((m: { user_id: string; role: string }) => [m.user_id, m.role]), [
      [alice.body.user_id, 'owner'],
      [bob.body.user_id, 'member'],
    ]);
    assert.equal((await call('DELETE', '/api/v1/orgs/acme-e2e', { cookie: bobCookie })).status, 403, 'a member cannot delete the org');
    assert.equal((await call('DELETE', `/api/v1/orgs/acme-e2e/members/${bob.body.user_id}`, { cookie: aliceCookie })).status, 204);
    assert.deepEqual((await call('GET', '/api/v1/orgs', { cookie: bobCookie })).body, []);
    assert.deepEqual((await call('GET', '/cp/auth/tenant-member?slug=acme-e2e', { cookie: bobCookie })).body, { member: false });

    // The same through the deprecated alias: identical bodies, plus the headers.
    const viaAlias = await call('GET', '/cp/orgs/acme-e2e', { cookie: aliceCookie });
    const viaApi = await call('GET', '/api/v1/orgs/acme-e2e', { cookie: aliceCookie });
    assert.deepEqual(viaAlias.body, viaApi.body);
    assert.equal(viaAlias.headers.get('deprecation'), '@1793491200');
    assert.equal(viaAlias.headers.get('sunset'), 'Mon, 01 Nov 2027 00:00:00 GMT');
    assert.equal(viaAlias.headers.get('link'), '</api/v1/orgs/acme-e2e>; rel="successor-version"');
    assert.equal(viaApi.headers.get('deprecation'), null);
    const aliasCreate = await call('POST', '/cp/orgs', { cookie: aliceCookie, body: { slug: 'acme-alias', name: 'Acme via alias' } });
    assert.equal(aliasCreate.status, 201);
    assert.equal(aliasCreate.headers.get('link'), '</api/v1/orgs>; rel="successor-version"');

    // The admin lists and creates orgs with the bearer; a session never passes there.
    const adminList = await call('GET', '/api/v1/admin/orgs?limit=10', { bearer: adminToken });
    assert.equal(adminList.status, 200);
    assert.deepEqual(adminList.body.orgs.map((o: { slug: string }) => o.slug).sort(), ['acme-alias', 'acme-e2e']);
    assert.equal((await call('GET', '/api/v1/admin/orgs', { cookie: aliceCookie })).status, 401);
    const adminCreate = await call('POST', '/cp/admin/orgs', { bearer: adminToken, body: { slug: 'ci-e2e', name: 'CI', owner_user_id: 'e2e-runner:ci-e2e' } });
    assert.equal(adminCreate.status, 201);

    // Every tenant credential bounces off every tier of the control plane.
    const orgKey = (await tenant.mintKey({ name: 'e2e' })).auth_token;
    const workspaceToken = (await tenant.createWorkspace()).auth_token;
    for (const bearer of [orgKey, workspaceToken, tenant.adminToken]) {
      for (const [method, url] of [['GET', '/api/v1/orgs'], ['GET', '/cp/orgs/acme-e2e'], ['GET', '/api/v1/admin/orgs'], ['GET', '/cp/auth/me']] as const) {
        const res = await call(method, url, { bearer });
        assert.equal(res.status, 401, `${bearer.slice(0, 5)} ${method} ${url}`);
        assert.equal(res.body.code, 'TENANT_CREDENTIAL_REJECTED');
      }
      const create = await call('POST', '/api/v1/orgs', { bearer, body: { slug: 'stolen-org', name: 'x' } });
      assert.equal(create.status, 401);
    }

    // Delete the org: gone for everyone.
    assert.equal((await call('DELETE', '/api/v1/orgs/acme-e2e', { cookie: aliceCookie })).status, 204);
    assert.equal((await call('GET', '/api/v1/orgs/acme-e2e', { cookie: aliceCookie })).status, 404);
    assert.equal((await call('GET', '/api/v1/orgs/acme-e2e/instance')).status, 404);

    // The audit chain holds and names each actor; a clean shutdown; no credential in the log but the two links.
    const verify = await call('GET', '/api/v1/admin/audit/verify', { bearer: adminToken });
    assert.equal(verify.body.ok, true);
    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0);
    const log = child.output();
    for (const secret of [adminToken, aliceCookie.split('=')[1]!, bobCookie.split('=')[1]!, 'alice password 1', invite.body.invite_token, orgKey]) {
      assert.equal(log.includes(secret), false, `log leaks ${secret.slice(0, 8)}…`);
    }
    const credentialLines = log.split('\n').filter((l) => /mol[a-z]_[0-9A-Za-z]{9,}/.test(l));
    assert.equal(credentialLines.length, 2, 'only the two sign-ups’ verification links carry a credential');
    for (const l of credentialLines) assert.equal(JSON.parse(l).mail, 'email-verification');
  });
});
