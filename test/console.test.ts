/**
 * The web console in a real browser (issue 14): `molecule-platform up` (what `npm start` runs) and Debian's Chromium
 * driven by playwright-core. The seed's journey as a new user would take it: open the printed URL, sign in as the
 * printed demo owner, open `acme`, press Control+, → Org API Keys, mint a key, copy it (read back from the
 * clipboard), list workspaces with it over real HTTP, revoke it in the UI with its typed name — and the next call
 * gets 401. Every page passes axe-core with no serious or critical violation, and is screenshotted at 1280 px and
 * 390 px under test-output/console/. The time to interactive of the keys page is printed, not asserted.
 *
 * Without Chromium (CHROMIUM_PATH, else /usr/bin/chromium) this file is skipped outside CI and fails under CI=true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { check, consoleSkip, curlTenant, onTenant, startConsole, type ConsoleRig } from './support/console.js';

/** curl, as the terminal in the seed's instructions: the HTTP status of GET <tenant>/workspaces with the key. */
const curlWorkspaces = (tenantUrl: string, key: string) => curlTenant(tenantUrl, key, '/workspaces');

describe('web console in Chromium', { skip: consoleSkip() }, () => {
  let rig: ConsoleRig;
  let up: ConsoleRig['up'];
  let context: ConsoleRig['context'];
  let cpUrl: string;
  let tenantUrl: string;

  before(async () => {
    // Room for the paging check's 100 mints (the default is 10 an hour per client).
    rig = await startConsole({ TENANT_ENV_ORG_TOKEN_MINT_LIMIT: '1000' });
    ({ up, context, cpUrl, tenantUrl } = rig);
  });

  after(async () => {
    await rig?.stop();
  });

  it('serves the pages with a strict CSP and long-cached hashed assets; API paths never get the page', async () => {
    const page = await fetch(`${cpUrl}/signin`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /style-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<style/, 'no inline style');
    const asset = /src="(\/_console\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const js = await fetch(`${cpUrl}${asset}`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    await js.arrayBuffer();
    const missing = await fetch(`${cpUrl}/api/v1/nope`, { headers: { accept: 'text/html' } });
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /json/);
    await missing.arrayBuffer();
    // The tenant: `/` goes to its console, whose page names the org for the API calls.
    const root = await onTenant(tenantUrl, '/');
    assert.equal(root.status, 302);
    assert.equal(root.headers['location'], '/app/');
    const tenantPage = await onTenant(tenantUrl, '/app/');
    assert.equal(tenantPage.status, 200);
    assert.match(tenantPage.text, /<meta name="molecule-org-slug" content="acme" \/>/);
    assert.equal(tenantPage.headers['content-security-policy'], csp);
    const traversal = await onTenant(tenantUrl, '/_console/..%2Fpackage.json');
    assert.ok(traversal.status === 400 || traversal.status === 404, `${traversal.status} ${traversal.text}`);
    assert.doesNotMatch(traversal.text, /molecule-platform/);
    // The tenant's API still demands the org header on everything else.
    const api = await onTenant(tenantUrl, '/workspaces');
    assert.equal(api.status, 401);
    assert.equal(typeof api.json.code, 'string');
  });

  it('the seed journey: sign in, open acme, Control+, → Org API Keys, mint, copy, use, revoke in the UI → 401', async () => {
    const page = await context.newPage();
    await page.goto(`${cpUrl}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/signin');
    // No OpenID Connect provider is configured for `up`: no button for one.
    assert.equal(await page.getByRole('link', { name: /Sign in with/ }).count(), 0);
    await check(page, 'cp-signin');

    // A wrong password shows the server's message and request id.
    await page.getByLabel('Email').fill(up.field('Demo owner'));
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /Could not sign in[\s\S]*Request id: \S+/);
    await check(page, 'cp-signin-error');

    await page.getByLabel('Password').fill(up.field('Demo password'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your organizations' }).waitFor();
    await page.getByRole('link', { name: 'Acme' }).waitFor();
    await check(page, 'cp-orgs');

    // An org one belongs to opens without the terms (only creating one needs them, the server's rule).
    await page.getByRole('link', { name: 'Acme' }).click();
    await page.getByRole('link', { name: 'Open the acme console' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: 'Your organizations' }).waitFor();

    // Creating an org needs the terms accepted first (the demo owner has not yet).
    await page.getByRole('link', { name: 'New organization' }).click();
    await page.getByRole('heading', { name: 'Terms of service' }).waitFor();
    await check(page, 'cp-terms');
    await page.getByRole('button', { name: 'Accept the terms' }).click();
    await page.getByRole('heading', { name: 'New organization' }).waitFor();
    await page.getByLabel('Slug', { exact: false }).fill('Bad Slug');
    await page.getByText('The slug must be').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create' }).isDisabled(), true);
    await check(page, 'cp-org-new');
    await page.goBack();

    await page.getByRole('link', { name: 'Acme' }).click();
    const open = page.getByRole('link', { name: 'Open the acme console' });
    await open.waitFor();
    const owner = page.getByRole('region', { name: 'Members' }).getByRole('listitem').filter({ hasText: up.field('Demo owner') });
    await owner.waitFor();
    assert.match(await owner.innerText(), /owner/);
    await check(page, 'cp-org-acme');
    await open.click();

    // The tenant host: its own host-only session (signed in through the tenant's /cp proxy; README, "Console").
    await page.waitForURL(`${tenantUrl}/app/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await check(page, 'tenant-signin');
    await page.getByLabel('Email').fill(up.field('Demo owner'));
    await page.getByLabel('Password').fill(up.field('Demo password'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'acme console' }).waitFor();
    await page.getByText('No workspaces yet.').waitFor();
    await check(page, 'tenant-home');

    // Control+, opens Settings on the Org API Keys tab; time to interactive measured from a fresh load of the page.
    await page.keyboard.press('Control+,');
    await page.getByRole('dialog', { name: 'Settings' }).waitFor();
    await page.getByRole('tab', { name: 'Org API Keys' }).waitFor();
    const t0 = Date.now();
    await page.goto(`${tenantUrl}/app/settings/keys`);
    await page.getByRole('button', { name: 'Mint key' }).waitFor();
    await page.getByRole('table').waitFor();
    const tti = await page.evaluate(() => performance.now());
    console.log(`# keys page: time to interactive ${Date.now() - t0} ms (navigation to the key table; performance.now() ${Math.round(tti)} ms)`);
    await check(page, 'tenant-keys');

    const dialog = page.getByRole('dialog', { name: 'Settings' });
    await dialog.getByLabel('Name', { exact: true }).fill('console-seed');
    await dialog.getByLabel('Expires in').selectOption('7');
    await dialog.getByRole('button', { name: 'Mint key' }).click();
    const shown = dialog.getByTestId('new-key');
    await shown.waitFor();
    const token = (await shown.innerText()).trim();
    assert.match(token, /^mola_/);
    assert.match(await dialog.getByText(/export MOLECULE_API_KEY=/).innerText(), new RegExp(`export MOLECULE_API_KEY=${token}`));
    await dialog.getByRole('button', { name: 'Copy key' }).click();
    await dialog.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    const clipboard = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    assert.equal(clipboard, token);
    // The new key is listed with a "soon" badge (7 days) and its creator.
    const row = dialog.getByRole('row').filter({ hasText: 'console-seed' });
    await row.waitFor();
    assert.match(await row.innerText(), /soon/);
    await check(page, 'tenant-keys-minted');

    // Use the key from outside the browser, as a terminal would.
    const list = await curlWorkspaces(tenantUrl, clipboard);
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(JSON.parse(list.body), []);

    // Revoke with the typed name; the button stays disabled until it matches.
    await dialog.getByRole('button', { name: 'I have copied it' }).click();
    await row.getByRole('button', { name: 'Revoke console-seed' }).click();
    const confirm = dialog.getByRole('form', { name: 'Revoke console-seed' });
    await confirm.waitFor();
    const revoke = confirm.getByRole('button', { name: 'Revoke key' });
    await confirm.getByLabel('Key name').fill('console-see');
    assert.equal(await revoke.isDisabled(), true);
    await confirm.getByLabel('Key name').fill('console-seed');
    await check(page, 'tenant-keys-revoke');
    await revoke.click();
    await row.waitFor({ state: 'detached' });

    const refused = await curlWorkspaces(tenantUrl, clipboard);
    assert.equal(refused.status, 401, refused.body);
    assert.equal(typeof (JSON.parse(refused.body) as { code: unknown }).code, 'string');

    // Rotate: the grace picker offers now, 1 h, 24 h and 7 d.
    const demo = dialog.getByRole('row').filter({ hasText: 'npm start demo key' });
    await demo.getByRole('button', { name: 'Rotate npm start demo key' }).click();
    const rotate = dialog.getByRole('form', { name: 'Rotate npm start demo key' });
    for (const label of ['now', '1 hour', '24 hours', '7 days']) await rotate.getByLabel(label, { exact: true }).waitFor();
    await check(page, 'tenant-keys-rotate');
    // Rotating with grace "now": the replacement is shown once, and the banner's demo key is refused at once.
    const demoKey = up.field('Org API key');
    assert.equal((await curlWorkspaces(tenantUrl, demoKey)).status, 200);
    await rotate.getByLabel('now', { exact: true }).check();
    await rotate.getByRole('button', { name: 'Rotate key' }).click();
    await rotate.waitFor({ state: 'detached' });
    const replacement = (await dialog.getByTestId('new-key').innerText()).trim();
    assert.match(replacement, /^mola_/);
    assert.notEqual(replacement, demoKey);
    assert.equal((await curlWorkspaces(tenantUrl, demoKey)).status, 401);
    assert.equal((await curlWorkspaces(tenantUrl, replacement)).status, 200);
    await dialog.getByRole('button', { name: 'I have copied it' }).click();

    // The org key policy, set in the tab, is enforced by the tenant: a mint beyond it shows the server's error and request id.
    const policy = dialog.getByRole('form', { name: 'Key policy' });
    await policy.getByLabel('Maximum key lifetime in days', { exact: false }).fill('7');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await policy.getByText('Last set by').waitFor();
    await dialog.getByLabel('Name', { exact: true }).fill('too-long');
    await dialog.getByLabel('Expires in').selectOption('30');
    await dialog.getByRole('button', { name: 'Mint key' }).click();
    const refusal = dialog.getByRole('form', { name: 'New key' }).getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /Could not mint the key[\s\S]*at most 7 days[\s\S]*Request id: \S+/);
    await check(page, 'tenant-keys-policy');
    await policy.getByLabel('Maximum key lifetime in days', { exact: false }).fill('');
    await policy.getByRole('button', { name: 'Save policy' }).click();
    await policy.getByText('Saved.').waitFor();

    // More keys than one page (100): the rest come behind "Load more keys", none silently missing.
    const auth = { authorization: `Bearer ${replacement}`, 'x-molecule-org-slug': 'acme' };
    for (let i = 0; i < 100; i++) {
      const minted = await onTenant(tenantUrl, '/org/tokens', { method: 'POST', headers: auth, body: { name: `page-${String(i).padStart(3, '0')}`, role: 'reader', expires_at: new Date(Date.now() + 86_400_000).toISOString() } });
      assert.equal(minted.status, 200, minted.text);
    }
    await page.reload();
    await dialog.getByRole('row').filter({ hasText: 'page-099' }).waitFor();
    const more = dialog.getByRole('button', { name: 'Load more keys' });
    await more.waitFor();
    assert.equal(await dialog.getByRole('row').filter({ hasText: 'npm start demo key' }).count(), 0, 'the oldest live key (the rotated demo key) is on the second page');
    await check(page, 'tenant-keys-paged');
    await more.click();
    await dialog.getByRole('row').filter({ hasText: 'npm start demo key' }).first().waitFor();
    await more.waitFor({ state: 'detached' });

    assert.deepEqual(rig.cspViolations, [], 'no CSP violation on any page');
    await page.close();
  });
});
