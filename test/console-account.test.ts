/**
 * The web console's account side in a real browser (issue 14): members and invitations, billing, and the device-code
 * approval page, on one `molecule-platform up` (what `npm start` runs) with Debian's Chromium.
 *
 * - Members: the demo owner invites (open invitation, role member) and copies the one-time link; a second account,
 *   signed up over HTTP, opens the link in its own browser, signs in in place and accepts; it sees the org read-only;
 *   the owner makes it admin, then removes it with its email typed back. The server's refusal to let the last owner
 *   leave is shown with its message and request id.
 * - Billing: plan, credits and invoices; a top-up through the API's session flow (the built-in ledger backend: the
 *   owner confirms the session on the page) raises the balance by exactly the credits and adds a paid invoice.
 * - Device flow (RFC 8628, `molecule auth login`): codes from POST /auth/device/code over HTTP, the verification URI
 *   opened in the browser, approved there (the token endpoint then answers a session for the chosen org); a second
 *   code, opened signed out, signs in in place and is denied (the token endpoint then answers access_denied).
 *
 * - OpenID Connect: with a real local provider configured, the sign-in page offers "Sign in with <provider>"; an
 *   email-bound invitation opened signed out is accepted after the round trip through the provider (its verified
 *   email is what the invitation asks for), the token surviving the redirects.
 *
 * Every state passes axe-core and is screenshotted at 1280 px and 390 px; no CSP violation on any page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { check, consoleSkip, startConsole, type ConsoleRig } from './support/console.js';
import { freePort, startTestOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('web console: account pages in Chromium', { skip: consoleSkip() }, () => {
  let rig: ConsoleRig;
  let cpUrl: string;
  let ownerEmail: string;
  /** A second account (signed up over HTTP) and its own browser context. */
  const second = { email: `second-${Date.now()}@example.test`, password: 'second-user-password-42' };
  let secondContext: BrowserContext;

  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${cpUrl}${p}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };

  const signInHere = async (page: Page, email: string, password: string) => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  before(async () => {
    rig = await startConsole();
    cpUrl = rig.cpUrl;
    ownerEmail = rig.up.field('Demo owner');
    await rig.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cpUrl });
    const signup = await api('POST', '/api/v1/auth/signup', { email: second.email, password: second.password, name: 'Second User' });
    assert.equal(signup.status, 201, JSON.stringify(signup.json));
    secondContext = await rig.browser.newContext({ viewport: { width: 1280, height: 800 } });
    secondContext.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) rig.cspViolations.push(m.text());
    });
  });

  after(async () => {
    await secondContext?.close().catch(() => undefined);
    await rig?.stop();
  });

  it('members: invite, accept in another browser, read-only for a member, change role, remove with the typed email; the last owner cannot leave', async () => {
    const page = await rig.cpPage();
    await page.getByRole('link', { name: 'Acme' }).click();
    await acceptTermsIfAsked(page, 'acme');
    const members = page.getByRole('region', { name: 'Members' });
    await members.getByRole('listitem').filter({ hasText: ownerEmail }).waitFor();
    const invitations = page.getByRole('region', { name: 'Invitations' });
    await invitations.getByText('No pending invitations.').waitFor();
    await check(page, 'cp-members');

    // The last owner cannot leave: the server's refusal, with its request id.
    await members.getByRole('listitem').filter({ hasText: ownerEmail }).getByRole('button', { name: /^Leave/ }).click();
    const leave = page.getByRole('form', { name: `Remove ${ownerEmail}` });
    await leave.getByLabel('Member’s email').fill(ownerEmail);
    await leave.getByRole('button', { name: 'Remove member' }).click();
    const refusal = leave.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /Could not remove the member[\s\S]*last owner[\s\S]*Request id: \S+/);
    await check(page, 'cp-members-last-owner');
    await leave.getByRole('button', { name: 'Cancel' }).click();

    // An open invitation as member: the link is shown once.
    const form = page.getByRole('form', { name: 'Invite a member' });
    await form.getByLabel('Role').selectOption('member');
    await form.getByRole('button', { name: 'Invite' }).click();
    const link = (await page.getByTestId('invite-link').innerText()).trim();
    assert.match(link, new RegExp(`^${cpUrl}/invitations/accept#token=moli_`));
    await page.getByRole('button', { name: 'Copy link' }).click();
    await page.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    const clipboard = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    assert.equal(clipboard, link);
    await invitations.getByRole('row').filter({ hasText: 'anyone with the link' }).waitFor();
    await check(page, 'cp-members-invited');
    await page.getByRole('button', { name: 'Done' }).click();

    // The second account opens the link signed out: it signs in in place, and the token is still there.
    const theirs = await secondContext.newPage();
    await theirs.goto(link);
    await signInHere(theirs, second.email, second.password);
    await theirs.getByRole('heading', { name: 'Accept an invitation' }).waitFor();
    assert.match(await theirs.getByLabel('Invite token').inputValue(), /^moli_/);
    await check(theirs, 'cp-invitation-accept');
    await theirs.getByRole('button', { name: 'Accept invitation' }).click();
    await theirs.getByRole('heading', { name: 'Invitation accepted' }).waitFor();
    assert.equal(new URL(theirs.url()).hash, '', 'the used token leaves the address bar');
    await check(theirs, 'cp-invitation-accepted');
    // A member reads the list, without controls.
    await theirs.getByRole('link', { name: 'Open acme' }).click();
    await acceptTermsIfAsked(theirs, 'acme');
    await theirs.getByRole('region', { name: 'Members' }).getByRole('listitem').filter({ hasText: second.email }).waitFor();
    await theirs.getByText('Your role is member').waitFor();
    assert.equal(await theirs.getByRole('form', { name: 'Invite a member' }).count(), 0);
    assert.equal(await theirs.getByRole('combobox').count(), 0);
    await check(theirs, 'cp-members-readonly');

    // The owner sees them (the invitation is used up), makes them admin, then removes them.
    await page.reload();
    const row = members.getByRole('listitem').filter({ hasText: second.email });
    await row.waitFor();
    await invitations.getByText('No pending invitations.').waitFor();
    await row.getByRole('combobox', { name: `Role of ${second.email}` }).selectOption('admin');
    await check(page, 'cp-members-role-pick');
    await row.getByRole('button', { name: `Save role of ${second.email}` }).click();
    await row.getByRole('button', { name: /^Save role/ }).waitFor({ state: 'detached', timeout: 30_000 });
    // The select follows the server: it shows admin once the list is read again.
    await until(async () => (await row.getByRole('combobox', { name: `Role of ${second.email}` }).inputValue()) === 'admin', 'the role reads admin');
    await check(page, 'cp-members-role-changed');

    await row.getByRole('button', { name: `Remove ${second.email}` }).click();
    const confirm = page.getByRole('form', { name: `Remove ${second.email}` });
    const remove = confirm.getByRole('button', { name: 'Remove member' });
    await confirm.getByLabel('Member’s email').fill('second@');
    assert.equal(await remove.isDisabled(), true);
    await confirm.getByLabel('Member’s email').fill(second.email);
    await check(page, 'cp-members-remove');
    await remove.click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    const gone = await api('GET', '/api/v1/orgs/acme', undefined, { cookie: await sessionCookie(secondContext) });
    assert.equal(gone.status, 404, 'removed: the org is gone for them');
  });

  it('billing: plan, credits and invoices; a top-up through the session flow raises the balance and adds a paid invoice', async () => {
    const page = await rig.cpPage();
    await page.goto(`${cpUrl}/orgs/acme`);
    await acceptTermsIfAsked(page, 'acme');
    await page.getByRole('link', { name: /^Billing/ }).click();
    await page.getByRole('heading', { name: 'Billing · acme' }).waitFor();
    const credits = page.getByTestId('credits');
    await credits.waitFor();
    const before = Number((await credits.innerText()).replace(/\D/g, ''));
    const invoices = page.getByRole('region', { name: 'Invoices' });
    await invoices.waitFor();
    await page.getByRole('group', { name: 'Plans' }).waitFor();
    // Loaded: either the table or the empty state.
    await until(async () => (await invoices.getByRole('table').count()) + (await invoices.getByText('No invoices yet.').count()) > 0, 'invoices loaded');
    const paidRows = () => invoices.getByRole('row').filter({ hasText: 'paid' }).count();
    const paidBefore = await paidRows();
    await check(page, 'cp-billing');

    const topup = page.getByRole('form', { name: 'Top up credits' });
    await topup.getByLabel('Credits to buy').fill('5');
    await topup.getByText('A whole number of credits from').waitFor();
    assert.equal(await topup.getByRole('button', { name: 'Continue to payment' }).isDisabled(), true);
    await check(page, 'cp-billing-topup-invalid');
    await topup.getByLabel('Credits to buy').fill('500');
    await topup.getByRole('button', { name: 'Continue to payment' }).click();
    const confirm = page.getByRole('region', { name: 'Confirm the top-up' });
    await confirm.getByText('500 credits for').waitFor();
    await check(page, 'cp-billing-confirm');
    await confirm.getByRole('button', { name: 'Confirm and pay' }).click();
    await confirm.waitFor({ state: 'detached', timeout: 30_000 });
    await until(async () => Number((await credits.innerText()).replace(/\D/g, '')) === before + 500, `the balance reads ${before + 500}`);
    await until(async () => (await paidRows()) === paidBefore + 1, 'one more paid invoice');
    await check(page, 'cp-billing-topped-up');

    // A plan change: the checkout session, confirmed in the page, moves the org to the plan and grants its credits.
    const plans = page.getByRole('group', { name: 'Plans' });
    await plans.getByRole('radio', { name: /^Team/ }).check();
    await page.getByRole('button', { name: 'Continue to checkout' }).click();
    const checkout = page.getByRole('region', { name: 'Confirm the plan change' });
    await checkout.getByText('The Team plan').waitFor();
    await check(page, 'cp-billing-checkout');
    await checkout.getByRole('button', { name: 'Confirm and pay' }).click();
    await checkout.waitFor({ state: 'detached', timeout: 30_000 });
    await until(async () => (await page.getByTestId('plan').innerText()) === 'Team', 'the plan reads Team');
    await until(async () => (await paidRows()) === paidBefore + 2, 'the plan’s paid invoice');
    assert.ok(Number((await credits.innerText()).replace(/\D/g, '')) > before + 500, 'the plan’s monthly credits were granted');
    await check(page, 'cp-billing-plan-changed');
  });

  it('device flow: the verification URI opens the console page; approve hands the CLI a session for the chosen org; deny (signed out first) refuses it', async () => {
    const start = await api('POST', '/api/v1/auth/device/code', { client_name: 'cli:console-test' });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    const code = start.json as { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string };
    assert.equal(code.verification_uri, `${cpUrl}/device`);
    const pending = await api('POST', '/api/v1/auth/device/token', { device_code: code.device_code, grant_type: GRANT });
    assert.equal(pending.json['error'], 'authorization_pending');

    const page = await rig.cpPage();
    await page.goto(code.verification_uri_complete);
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
    await page.getByTestId('device-code').waitFor();
    assert.equal(await page.getByTestId('device-code').innerText(), code.user_code);
    await page.getByText('cli:console-test').waitFor();
    await page.getByLabel('Organization for the device to use').selectOption('acme');
    await check(page, 'cp-device');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Device approved' }).waitFor();
    await check(page, 'cp-device-approved');
    const token = await api('POST', '/api/v1/auth/device/token', { device_code: code.device_code, grant_type: GRANT });
    assert.equal(token.status, 200, JSON.stringify(token.json));
    assert.equal(token.json['org_slug'], 'acme');
    assert.match(String(token.json['access_token']), /^mols_/);
    const me = await api('GET', '/api/v1/auth/me', undefined, { cookie: `mcp_session=${String(token.json['access_token'])}` });
    assert.equal(me.json['email'], ownerEmail);

    // A code typed by hand, wrong: the server's message and request id, and the form again.
    await page.goto(`${cpUrl}/device`);
    await page.getByLabel('Code shown by your device').fill('ZZZZ-ZZZZ');
    await page.getByRole('button', { name: 'Continue' }).click();
    const wrong = page.getByRole('alert');
    await wrong.waitFor();
    assert.match(await wrong.innerText(), /unknown, expired or already used[\s\S]*Request id: \S+/);
    await check(page, 'cp-device-invalid');

    // Deny, from a browser that is signed out: the page signs in in place and keeps the code.
    const denied = (await api('POST', '/api/v1/auth/device/code', { client_name: 'cli:console-deny' })).json as { device_code: string; verification_uri_complete: string; user_code: string };
    const fresh = await rig.browser.newContext({ viewport: { width: 1280, height: 800 } });
    fresh.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) rig.cspViolations.push(m.text());
    });
    try {
      const other = await fresh.newPage();
      await other.goto(denied.verification_uri_complete);
      await other.getByRole('heading', { name: 'Sign in' }).waitFor();
      await check(other, 'cp-device-signin');
      await signInHere(other, ownerEmail, rig.up.field('Demo password'));
      await other.getByTestId('device-code').waitFor();
      assert.equal(await other.getByTestId('device-code').innerText(), denied.user_code);
      await other.getByRole('button', { name: 'Deny' }).click();
      await other.getByRole('heading', { name: 'Device denied' }).waitFor();
      await check(other, 'cp-device-denied');
    } finally {
      await fresh.close();
    }
    const refused = await api('POST', '/api/v1/auth/device/token', { device_code: denied.device_code, grant_type: GRANT });
    assert.equal(refused.status, 400);
    assert.equal(refused.json['error'], 'access_denied');
  });

  it('no Content-Security-Policy violation on any page', () => {
    assert.deepEqual(rig.cspViolations, []);
  });
});

describe('web console: OpenID Connect sign-in in Chromium', { skip: consoleSkip() }, () => {
  let op: TestOidcProvider;
  let rig: ConsoleRig;

  before(async () => {
    // The provider must know the CP's callback before either starts: the port is chosen here and given to `up`.
    const port = await freePort();
    op = await startTestOidcProvider({ redirectUris: [`http://localhost:${port}/api/v1/auth/callback`, `http://localhost:${port}/cp/auth/callback`] });
    op.accounts.set('ada', { email: 'ada@example.test', email_verified: true, name: 'Ada Lovelace' });
    rig = await startConsole({ PORT: String(port), OIDC_ISSUER_URL: op.issuer, OIDC_CLIENT_ID: op.clientId, OIDC_CLIENT_SECRET: op.clientSecret, OIDC_PROVIDER_NAME: 'acme-sso' });
  });

  after(async () => {
    await rig?.stop();
    await op?.close();
  });

  it('an email-bound invitation, opened signed out, is accepted after signing in with the provider', async () => {
    // The demo owner invites Ada by email, over the API as the console does.
    const login = await fetch(`${rig.cpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: rig.up.field('Demo owner'), password: rig.up.field('Demo password') }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const invite = await fetch(`${rig.cpUrl}/api/v1/orgs/acme/members/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ email: 'ada@example.test', role: 'admin' }),
    });
    assert.equal(invite.status, 201, await invite.clone().text());
    const token = ((await invite.json()) as { invite_token: string }).invite_token;

    const page = await rig.context.newPage();
    await page.goto(`${rig.cpUrl}/invitations/accept#token=${token}`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const sso = page.getByRole('link', { name: 'Sign in with acme-sso' });
    await sso.waitFor();
    await check(page, 'cp-signin-oidc');
    await sso.click();
    // At the provider: its interaction step, where the user says who they are (the test provider takes `?account=`).
    await page.waitForURL((u) => u.origin === op.issuer && u.pathname.startsWith('/interaction/'), { timeout: 60_000 });
    await page.goto(`${page.url()}?account=ada`);
    await page.getByRole('heading', { name: 'Accept an invitation' }).waitFor({ timeout: 60_000 });
    assert.equal(new URL(page.url()).pathname, '/invitations/accept');
    assert.equal(await page.getByLabel('Invite token').inputValue(), token, 'the token came through the redirects');
    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.getByRole('heading', { name: 'Invitation accepted' }).waitFor();
    await page.getByText('as admin').waitFor();
    await check(page, 'cp-invitation-accepted-oidc');
    assert.deepEqual(rig.cspViolations, []);
  });
});

/** The org pages need the terms accepted: accepts them when the page asks, then waits for the org's heading. */
async function acceptTermsIfAsked(page: Page, slug: string): Promise<void> {
  const terms = page.getByRole('button', { name: 'Accept the terms' });
  const org = page.getByRole('heading', { name: slug, exact: true });
  await terms.or(org).first().waitFor({ timeout: 30_000 });
  if ((await terms.count()) > 0) await terms.click();
  await org.waitFor({ timeout: 30_000 });
}

/** Polls `cond` (a UI state) until it holds; generous, for loaded CI machines. */
async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The context's CP session cookie, as a Cookie header. */
async function sessionCookie(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === 'mcp_session');
  assert.ok(cookie, 'signed in');
  return `mcp_session=${cookie.value}`;
}
