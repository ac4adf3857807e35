/**
 * `molecule auth login` by the device code flow (RFC 8628) against a real control plane, with a tenant that verifies
 * the resulting session through it. The CLI prints a code; a signed-in user approves it on the console's /device page
 * (the test makes the page's two JSON calls: GET /auth/device/pending, POST /auth/device/approve); the CLI, polling,
 * gets a session, picks the org chosen on the page and mints its key.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { freshConfigDir, runCliInTerminal } from './support/cli.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

forEachDatabase('CLI auth login (device code)', (kind) => {
  let cp: TestControlPlane;
  let t: TestTenant;
  let user: TestUser;
  let org: TestOrg;

  /** The CP's public origin (PUBLIC_URL): what it prints as the verification URL and what a browser sends as Origin. */
  let origin: string;
  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
    origin = new URL(cp.config.PUBLIC_URL ?? `http://localhost:${cp.config.PORT}`).origin;
    user = await cp.signup();
    org = await cp.createOrg(user);
    await cp.createOrg(user); // two orgs: the one chosen on the page must win
    t = await startTestTenant(kind, { listen: true, env: { WORKSPACE_PROVISIONER: 'none', CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: org.id, MOLECULE_ORG_SLUG: org.slug } });
  });
  after(async () => {
    await t.close();
    await cp.close();
  });

  /** Answers as the console's /device page does for the signed-in user: looks the code up, then approves (choosing `org`) or denies. */
  async function decide(userCode: string, decision: 'approve' | 'deny'): Promise<void> {
    const pending = await fetch(`${cp.url}/api/v1/auth/device/pending?user_code=${encodeURIComponent(userCode)}`, { headers: { cookie: user.cookie } });
    assert.equal(pending.status, 200, await pending.clone().text());
    assert.equal(((await pending.json()) as { user_code: string }).user_code, userCode, 'the page shows the code');
    const res = await fetch(`${cp.url}/api/v1/auth/device/approve`, {
      method: 'POST',
      headers: { cookie: user.cookie, origin, 'content-type': 'application/json' },
      body: JSON.stringify({ user_code: userCode, decision, ...(decision === 'approve' ? { org_slug: org.slug } : {}) }),
    });
    assert.equal(res.status, 200, `${decision}: ${res.status} ${await res.text()}`);
  }

  it('prints the URL and code, polls until approved in the browser, then signs in to the org chosen there', async () => {
    const dir = freshConfigDir();
    const term = runCliInTerminal(['auth', 'login', '--no-browser', '--cp-url', cp.url, '--api-url', t.url], { env: { MOLECULE_CONFIG_DIR: dir } });
    const shown = await term.waitFor(/enter the code [A-Z]{4}-[A-Z]{4}/);
    assert.match(shown, new RegExp(`open ${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/device`));
    const userCode = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(shown)![1]!;
    await decide(userCode, 'approve');
    const done = await term.done;
    assert.equal(done.code, 0, done.stdout);
    assert.match(done.stdout, new RegExp(`signed in as ${user.email} to org ${org.slug}`));
    const profile = (JSON.parse(readFileSync(path.join(dir, 'credentials.json'), 'utf8')) as { profiles: Record<string, Record<string, unknown>> }).profiles['default']!;
    assert.equal(profile['org_slug'], org.slug);
    assert.equal(profile['key_managed'], true);
    const me = await fetch(`${cp.url}/api/v1/auth/me`, { headers: { cookie: `mcp_session=${String(profile['session'])}` } });
    assert.equal(me.status, 200);
  });

  it('a denial in the browser ends the login with exit 4 and saves nothing', async () => {
    const dir = freshConfigDir();
    const term = runCliInTerminal(['auth', 'login', '--no-browser', '--cp-url', cp.url, '--api-url', t.url], { env: { MOLECULE_CONFIG_DIR: dir } });
    const shown = await term.waitFor(/enter the code [A-Z]{4}-[A-Z]{4}/);
    await decide(/enter the code ([A-Z]{4}-[A-Z]{4})/.exec(shown)![1]!, 'deny');
    const done = await term.done;
    assert.equal(done.code, 4, done.stdout);
    assert.match(done.stdout, /denied/);
  });
});
