/**
 * `molecule auth login` by the device code flow (RFC 8628) against a real control plane, with a tenant that verifies
 * the resulting session through it. The CLI prints a code; a signed-in user approves it on the CP's /device page (the
 * test fills in the page's own form, whatever its hidden fields); the CLI, polling, gets a session, picks the org
 * chosen on the page and mints its key. Needs the CP's device endpoints (built on another branch): until they are
 * merged this suite fails at the first call.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { freshConfigDir, runCliInTerminal } from './support/cli.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

/** The page's POST form as name → value pairs (inputs, the first option of each select), and its submit buttons. */
function formOf(html: string): { action: string | null; fields: Record<string, string>; buttons: Array<{ name: string; value: string }> } {
  const form = /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  assert.ok(form, `no POST form on the page:\n${html}`);
  const action = /action="([^"]*)"/i.exec(form[0])?.[1] ?? null;
  const fields: Record<string, string> = {};
  for (const m of form[1]!.matchAll(/<input\b[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(m[0])?.[1];
    const type = /type="([^"]+)"/.exec(m[0])?.[1] ?? 'text';
    if (name && type !== 'submit') fields[name] = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
  }
  for (const m of form[1]!.matchAll(/<select\b[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/gi)) {
    fields[m[1]!] = /<option[^>]*value="([^"]*)"/.exec(m[2]!)?.[1] ?? '';
  }
  const buttons = [...form[1]!.matchAll(/<(?:button|input)\b[^>]*type="submit"[^>]*>/gi)].map((b) => ({
    name: /name="([^"]+)"/.exec(b[0])?.[1] ?? '',
    value: /value="([^"]*)"/.exec(b[0])?.[1] ?? '',
  }));
  return { action, fields, buttons };
}

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

  /** Answers the device page as the signed-in user would: approve (choosing `org`) or deny. */
  async function decide(userCode: string, decision: 'approve' | 'deny'): Promise<void> {
    const page = await fetch(`${cp.url}/device?user_code=${encodeURIComponent(userCode)}`, { headers: { cookie: user.cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes(userCode), 'the page shows the code');
    const { action, fields, buttons } = formOf(html);
    const orgField = Object.keys(fields).find((k) => /org/.test(k));
    if (orgField) fields[orgField] = org.slug;
    const button = buttons.find((b) => new RegExp(decision, 'i').test(`${b.name} ${b.value}`));
    assert.ok(button, `no ${decision} button: ${JSON.stringify(buttons)}`);
    if (button.name) fields[button.name] = button.value;
    const res = await fetch(new URL(action || '/device', cp.url), {
      method: 'POST',
      headers: { cookie: user.cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
    assert.ok(res.status < 400, `${decision}: ${res.status} ${await res.text()}`);
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
