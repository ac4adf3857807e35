/**
 * `molecule auth …` end to end with the real binary: an org key from stdin into a 0600 profile; email/password sign-in
 * at a real control plane whose session the real tenant verifies (CP_UPSTREAM_URL), the CLI's own key minted with it,
 * renewed before it expires, and revoked on logout.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { freshConfigDir, runCli } from './support/cli.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const readProfiles = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'credentials.json'), 'utf8')) as { current: string; profiles: Record<string, Record<string, unknown>> };

forEachDatabase('CLI auth', (kind) => {
  let cp: TestControlPlane;
  let t: TestTenant;
  let user: TestUser;
  let org: TestOrg;

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
    user = await cp.signup();
    org = await cp.createOrg(user);
    t = await startTestTenant(kind, { listen: true, env: { WORKSPACE_PROVISIONER: 'none', CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: org.id, MOLECULE_ORG_SLUG: org.slug } });
  });
  after(async () => {
    await t.close();
    await cp.close();
  });

  it('use-key: from stdin into a 0600 profile after checking it; a wrong key exits 4 and saves nothing', async () => {
    const dir = freshConfigDir();
    const wrong = await runCli(['auth', 'use-key', '--api-url', t.url, '--org', t.orgId], { env: { MOLECULE_CONFIG_DIR: dir }, input: 'mola_wrongwrongwrongwrongwrong\n' });
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, /\[401 [A-Z_]+\] \(request [^)]+\)/);
    assert.equal(existsSync(path.join(dir, 'credentials.json')), false);

    const key = (await t.mintKey({ name: 'mine', role: 'editor' })).auth_token;
    const ok = await runCli(['auth', 'use-key', '--api-url', t.url, '--org', t.orgId, '--json'], { env: { MOLECULE_CONFIG_DIR: dir }, input: `${key}\n` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(Object.keys(ok.json<object>()).sort(), ['api_url', 'credentials_file', 'expires_at', 'key_prefix', 'org_id', 'org_slug', 'profile', 'role']);
    assert.equal(ok.json<{ role: string }>().role, 'editor', 'the role the server reports for the key');
    assert.doesNotMatch(ok.stdout + ok.stderr, new RegExp(key));
    const file = path.join(dir, 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o077, 0);
    const saved = readProfiles(dir);
    assert.equal(saved.current, 'default');
    assert.equal(saved.profiles['default']!['api_key'], key);
    assert.equal(saved.profiles['default']!['api_url'], t.url);

    // The saved profile is all a command needs.
    const list = await runCli(['workspace', 'list', '--json'], { env: { MOLECULE_CONFIG_DIR: dir } });
    assert.equal(list.code, 0, list.stderr);

    const status = await runCli(['auth', 'status', '--json'], { env: { MOLECULE_CONFIG_DIR: dir } });
    assert.equal(status.code, 0, status.stderr);
    const s = status.json<Record<string, unknown>>();
    assert.equal(s['profile'], 'default');
    assert.equal(s['credentials_file'], file);
    assert.equal(s['api_url'], t.url);
    assert.deepEqual(s['credential'], { type: 'org-key', source: 'profile default', prefix: key.slice(0, 13) });
    // What the tenant says the key is (GET /auth/self).
    assert.deepEqual(s['tenant'], { ok: true, class: 'org-token', role: 'editor', workspace_ids: null, expires_at: null, name: 'mine', prefix: key.slice(0, 13) });
    assert.doesNotMatch(status.stdout, new RegExp(key));
    const human = await runCli(['auth', 'status'], { env: { MOLECULE_CONFIG_DIR: dir } });
    assert.match(human.stdout, new RegExp(`credentials file\\s+${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.doesNotMatch(human.stdout, new RegExp(key));

    // A second profile, then switch between them.
    const other = await runCli(['auth', 'use-key', '--profile', 'staging', '--api-url', t.url, '--org', t.orgId], { env: { MOLECULE_CONFIG_DIR: dir }, input: key });
    assert.equal(other.code, 0, other.stderr);
    assert.equal(readProfiles(dir).current, 'staging');
    const sw = await runCli(['auth', 'switch', 'default'], { env: { MOLECULE_CONFIG_DIR: dir } });
    assert.equal(sw.code, 0, sw.stderr);
    assert.equal(readProfiles(dir).current, 'default');
    const missing = await runCli(['auth', 'switch', 'nope'], { env: { MOLECULE_CONFIG_DIR: dir } });
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /saved: default, staging/);

    // Logout forgets a key the user gave, without revoking it (it is theirs).
    const out = await runCli(['auth', 'logout'], { env: { MOLECULE_CONFIG_DIR: dir } });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(readProfiles(dir).profiles['default']!['api_key'], undefined);
    assert.equal((await runCli(['workspace', 'list'], { env: { MOLECULE_CONFIG_DIR: dir } })).code, 4);
    assert.equal((await runCli(['workspace', 'list'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: key } })).code, 0);
    const none = await runCli(['auth', 'status'], { env: { MOLECULE_CONFIG_DIR: freshConfigDir() } });
    assert.equal(none.code, 4);
  });

  it('login with email and password: a CP session, the CLI key minted on the tenant with it; renewal; logout revokes both', async () => {
    const dir = freshConfigDir();
    const env = { MOLECULE_CONFIG_DIR: dir };
    const bad = await runCli(['auth', 'login', '--email', user.email, '--cp-url', cp.url, '--api-url', t.url], { env, input: 'not-the-password\n' });
    assert.equal(bad.code, 4, bad.stderr);
    assert.equal(existsSync(path.join(dir, 'credentials.json')), false);

    const login = await runCli(['auth', 'login', '--email', user.email, '--cp-url', cp.url, '--api-url', t.url, '--json'], { env, input: `${user.password}\n` });
    assert.equal(login.code, 0, login.stderr);
    const summary = login.json<{ profile: string; user: string; org_id: string; org_slug: string; api_url: string; key: { id: string; prefix: string; role: string; expires_at: string } }>();
    assert.equal(summary.user, user.email);
    assert.equal(summary.org_slug, org.slug, 'the only org was picked');
    assert.equal(summary.key.role, 'admin');
    const days = (Date.parse(summary.key.expires_at) - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, String(days));
    const profile = readProfiles(dir).profiles['default']!;
    assert.equal(profile['key_managed'], true);
    assert.equal(profile['key_id'], summary.key.id);
    assert.match(String(profile['session']), /\S{16,}/);
    assert.equal(statSync(path.join(dir, 'credentials.json')).mode & 0o777, 0o600);

    // The tenant minted it for the user's session, named after this machine.
    const keys = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() });
    const row = (keys.json().tokens as Array<Record<string, unknown>>).find((k) => k['id'] === summary.key.id)!;
    assert.equal(row['name'], `cli:${hostname()}`);
    assert.equal(row['created_by'], `session:${user.userId}`);

    const list = await runCli(['workspace', 'list', '--json'], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.doesNotMatch(list.stderr, /renewed/, 'a fresh key is not renewed');
    const status = (await runCli(['auth', 'status', '--json'], { env })).json<Record<string, unknown>>();
    assert.deepEqual(status['user'], { ok: true, email: user.email, user_id: user.userId });
    assert.equal(status['key_managed'], true);
    assert.equal(status['key_role'], 'admin');
    assert.equal(status['key_expires_at'], summary.key.expires_at);
    assert.doesNotMatch(JSON.stringify(status), new RegExp(String(profile['api_key'])));
    assert.doesNotMatch(JSON.stringify(status), new RegExp(String(profile['session'])));

    // Renewal: a managed key with little lifetime left (minted with the session, 1 h) is rotated on first use.
    const short = await t.app.inject({
      method: 'POST',
      url: '/org/tokens',
      headers: { 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${String(profile['session'])}` },
      payload: { name: `cli:${hostname()}`, expires_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    assert.equal(short.statusCode, 200, short.body);
    const s = short.json() as { id: string; auth_token: string; expires_at: string; created_at: string };
    const file = readProfiles(dir);
    // Through an org host name below localhost, as the edge serves orgs (the renewal must resolve it like every call).
    const orgHost = t.url.replace('127.0.0.1', `${org.slug}.localhost`);
    Object.assign(file.profiles['default']!, { api_url: orgHost, api_key: s.auth_token, key_id: s.id, key_expires_at: s.expires_at, key_created_at: s.created_at });
    writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify(file), { mode: 0o600 });
    const renewed = await runCli(['workspace', 'list'], { env });
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.match(renewed.stderr, /renewed the CLI's org key/);
    const after = readProfiles(dir).profiles['default']!;
    assert.notEqual(after['key_id'], s.id);
    assert.notEqual(after['api_key'], s.auth_token);
    assert.ok(Date.parse(String(after['key_expires_at'])) - Date.now() > 6.9 * 86_400_000);
    const rotatedRow = ((await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() })).json().tokens as Array<Record<string, unknown>>).find((k) => k['id'] === s.id)!;
    assert.equal(rotatedRow['replaced_by'], after['key_id'], 'the old key retires in favour of the new one');
    assert.equal((await runCli(['workspace', 'list'], { env })).stderr.includes('renewed'), false, 'renewed once, not on every run');

    // A renewal that fails (the session is gone) is a warning while the key still works.
    const broken = readProfiles(dir);
    Object.assign(broken.profiles['default']!, { session: 'mols_not-a-real-session', key_expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify(broken), { mode: 0o600 });
    const warned = await runCli(['workspace', 'list'], { env });
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /could not renew the CLI's org key .* it still works until/);
    // Put the real session back for logout.
    const fixed = readProfiles(dir);
    fixed.profiles['default']!['session'] = profile['session'];
    writeFileSync(path.join(dir, 'credentials.json'), JSON.stringify(fixed), { mode: 0o600 });

    const managedKey = String(readProfiles(dir).profiles['default']!['api_key']);
    const out = await runCli(['auth', 'logout', '--json'], { env });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.json<{ done: string[] }>().done.length, 2, out.stdout);
    const left = readProfiles(dir).profiles['default']!;
    for (const k of ['api_key', 'key_id', 'session', 'key_managed']) assert.equal(left[k], undefined, k);
    assert.equal(left['api_url'], orgHost, 'where stays; who goes');
    const revoked = await runCli(['workspace', 'list'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: managedKey } });
    assert.equal(revoked.code, 4, 'the managed key was revoked');
    const me = await fetch(`${cp.url}/api/v1/auth/me`, { headers: { cookie: `mcp_session=${String(profile['session'])}` } });
    assert.equal(me.status, 401, 'the session was ended');
  });

  it('login: an org the user is not in → 6 naming theirs; no org chosen among several without a terminal → 3', async () => {
    const env = { MOLECULE_CONFIG_DIR: freshConfigDir() };
    const stranger = await runCli(['auth', 'login', '--email', user.email, '--cp-url', cp.url, '--api-url', t.url, '--org', 'not-mine'], { env, input: user.password });
    assert.equal(stranger.code, 6, stranger.stderr);
    assert.match(stranger.stderr, new RegExp(`yours: ${org.slug}`));
    const second = await cp.createOrg(user);
    const several = await runCli(['auth', 'login', '--email', user.email, '--cp-url', cp.url, '--api-url', t.url], { env, input: user.password });
    assert.equal(several.code, 3, several.stderr);
    assert.match(several.stderr, new RegExp(`pass --org with one of: .*${second.slug}`));
  });
});
