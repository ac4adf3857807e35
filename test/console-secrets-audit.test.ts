/**
 * The console's Secrets and Audit pages in Chromium (issue 14), against a real `molecule-platform up`.
 *
 * Secrets: set an org-wide secret in the UI, see it over HTTP by key, and never its value in the page's DOM; replace
 * it; a reserved key shows the server's message and request id; a write held by the approval gate names its approval
 * (that one answer is stubbed in the browser: `up` gates only agents' credentials, not the session); delete with the
 * typed key; the same for a workspace's secret. Audit: those writes are listed; a path filter narrows the list; older
 * entries page in by cursor; the live tail shows an entry made with curl meanwhile, without a reload and without the
 * page's own polling; "Verify chain" says the chain is intact; export downloads NDJSON. Every state passes axe-core
 * and is screenshotted at 1280 px and 390 px (test-output/console/tenant-secrets-*, tenant-audit-*).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page, Route } from 'playwright-core';
import { check, consoleSkip, curlTenant, onTenant, startConsole, type ConsoleRig } from './support/console.js';

/** Polls a condition read from the page (a locator's texts, a count) until it holds: no fixed sleeps. */
async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('console: Secrets and Audit pages in Chromium', { skip: consoleSkip() }, () => {
  let rig: ConsoleRig;
  let workspaceId: string;
  const asKey = () => ({ authorization: `Bearer ${rig.orgKey}`, 'x-molecule-org-slug': 'acme' });
  /** Values no page may ever contain. */
  const first = `s3cr3t-first-${randomBytes(8).toString('hex')}`;
  const second = `s3cr3t-second-${randomBytes(8).toString('hex')}`;
  const wsValue = `s3cr3t-ws-${randomBytes(8).toString('hex')}`;
  const sharedValue = `s3cr3t-shared-${randomBytes(8).toString('hex')}`;
  const assertNoValue = async (page: Page) => {
    const html = await page.content();
    for (const v of [first, second, wsValue, sharedValue]) assert.ok(!html.includes(v), `the page's DOM holds a secret value (${v.slice(0, 16)}…)`);
  };

  before(async () => {
    rig = await startConsole();
    // An external workspace: no process is started for it, and its secrets still work.
    const ws = await onTenant(rig.tenantUrl, '/workspaces', { method: 'POST', headers: asKey(), body: { name: 'secrets-ws', external: true } });
    assert.ok(ws.status === 200 || ws.status === 201, `${ws.status} ${ws.text}`);
    workspaceId = (ws.json as { id: string }).id;
  });

  after(async () => {
    await rig?.stop();
  });

  it('secrets: set, replace, refuse, held for approval, delete — org-wide and per workspace, values never shown', async () => {
    // The first list is held in flight for the loading state's screenshot.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const hold = async (route: Route) => {
      if (route.request().method() === 'GET') await held;
      await route.fallback();
    };
    const isList = (url: URL) => url.pathname === '/settings/secrets';
    await rig.context.route(isList, hold);
    const page = await rig.tenantPage('secrets');
    await page.getByRole('heading', { name: 'Secrets', level: 1 }).waitFor();
    await page.getByText('Loading secrets…').waitFor();
    await check(page, 'tenant-secrets-loading');
    release();
    await rig.context.unroute(isList, hold);
    await page.getByText('No secrets yet. Add one above.').waitFor();
    await check(page, 'tenant-secrets-empty');

    // Set an org-wide secret: the value field is a password field, cleared once saved.
    const form = page.getByRole('form', { name: 'New secret' });
    await form.getByLabel('Key', { exact: true }).fill('CONSOLE_TOKEN');
    const value = form.getByLabel('Value', { exact: true });
    assert.equal(await value.getAttribute('type'), 'password');
    await value.fill(first);
    await form.getByRole('button', { name: 'Save secret' }).click();
    await page.getByText('Saved CONSOLE_TOKEN.').waitFor();
    assert.equal(await value.inputValue(), '');
    const row = page.getByRole('row').filter({ hasText: 'CONSOLE_TOKEN' });
    await row.waitFor();
    assert.match(await row.innerText(), /set \(hidden\)/);
    await assertNoValue(page);
    const listed = await curlTenant(rig.tenantUrl, rig.orgKey, '/settings/secrets');
    assert.equal(listed.status, 200, listed.body);
    assert.deepEqual((JSON.parse(listed.body) as Array<{ key: string }>).map((s) => s.key), ['CONSOLE_TOKEN']);
    assert.ok(!listed.body.includes(first));
    await check(page, 'tenant-secrets-saved');

    // Replace it: the key is fixed, a new value goes in, and is cleared again.
    await row.getByRole('button', { name: 'Replace CONSOLE_TOKEN' }).click();
    const replace = page.getByRole('form', { name: 'Replace CONSOLE_TOKEN' });
    await replace.getByLabel('Value', { exact: true }).fill(second);
    await check(page, 'tenant-secrets-replace');
    await replace.getByRole('button', { name: 'Replace value' }).click();
    await replace.waitFor({ state: 'detached' });
    await page.getByText('Saved CONSOLE_TOKEN.').waitFor();
    await assertNoValue(page);

    // A name the platform owns: the server's message and its request id.
    await form.getByLabel('Key', { exact: true }).fill('PATH');
    await form.getByLabel('Value', { exact: true }).fill('nope');
    await form.getByRole('button', { name: 'Save secret' }).click();
    const refusal = form.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /Could not save the secret[\s\S]*PATH[\s\S]*Request id: \S+/);
    await check(page, 'tenant-secrets-error');

    // Held by the approval gate (APPROVAL_GATED_ACTIONS=secret_write): the answer is the gate's 202, stubbed here.
    const approvalId = randomUUID();
    const gate = async (route: Route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      await route.fulfill({
        status: 202,
        contentType: 'application/json',
        body: JSON.stringify({ status: 'pending_approval', approval_id: approvalId, action: 'secret_write', reason: 'set org-wide secret HELD_KEY' }),
      });
    };
    await page.route(isList, gate);
    await form.getByLabel('Key', { exact: true }).fill('HELD_KEY');
    await form.getByLabel('Value', { exact: true }).fill('held-value');
    await form.getByRole('button', { name: 'Save secret' }).click();
    const pending = page.getByText('Waiting for approval.');
    await pending.waitFor();
    const note = await page.locator('.secrets-pending').innerText();
    assert.match(note, new RegExp(approvalId));
    assert.equal(await form.getByLabel('Value', { exact: true }).inputValue(), '');
    assert.equal(await page.getByRole('link', { name: 'Approvals page' }).getAttribute('href'), '/app/approvals');
    await check(page, 'tenant-secrets-pending');
    await page.unroute(isList, gate);

    // Delete with the typed key: the button stays disabled until it matches.
    await row.getByRole('button', { name: 'Delete CONSOLE_TOKEN' }).click();
    const confirm = page.getByRole('form', { name: 'Delete CONSOLE_TOKEN' });
    const del = confirm.getByRole('button', { name: 'Delete secret' });
    await confirm.getByLabel('Key to delete').fill('CONSOLE_TOKE');
    assert.equal(await del.isDisabled(), true);
    await confirm.getByLabel('Key to delete').fill('CONSOLE_TOKEN');
    await check(page, 'tenant-secrets-delete');
    await del.click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('Deleted CONSOLE_TOKEN.').waitFor();
    // Keyboard focus returns to the list, not to the top of the page.
    await page.locator('#secrets-title:focus').waitFor();
    const gone = await curlTenant(rig.tenantUrl, rig.orgKey, '/settings/secrets');
    assert.deepEqual(JSON.parse(gone.body), []);

    // A workspace's own secret, next to an org-wide one it inherits (set over HTTP: listed, not editable there).
    const shared = await onTenant(rig.tenantUrl, '/settings/secrets', { method: 'POST', headers: asKey(), body: { key: 'ORG_SHARED', value: sharedValue } });
    assert.equal(shared.status, 200, shared.text);
    await page.getByLabel('Scope').selectOption({ label: 'Workspace: secrets-ws' });
    await page.getByRole('heading', { name: 'Workspace secrets' }).waitFor();
    const inherited = page.getByRole('row').filter({ hasText: 'ORG_SHARED' });
    await inherited.waitFor();
    assert.match(await inherited.innerText(), /org-wide[\s\S]*inherited/);
    assert.equal(await inherited.getByRole('button').count(), 0);
    await form.getByLabel('Key', { exact: true }).fill('WS_ONLY');
    await form.getByLabel('Value', { exact: true }).fill(wsValue);
    await form.getByRole('button', { name: 'Save secret' }).click();
    await page.getByText('Saved WS_ONLY.').waitFor();
    const wsRow = page.getByRole('row').filter({ hasText: 'WS_ONLY' });
    await wsRow.waitFor();
    assert.match(await wsRow.innerText(), /this workspace/);
    const wsListed = await curlTenant(rig.tenantUrl, rig.orgKey, `/workspaces/${workspaceId}/secrets`);
    assert.equal(wsListed.status, 200, wsListed.body);
    assert.deepEqual((JSON.parse(wsListed.body) as Array<{ key: string }>).map((s) => s.key).sort(), ['ORG_SHARED', 'WS_ONLY']);
    await assertNoValue(page);
    await check(page, 'tenant-secrets-workspace');
    await wsRow.getByRole('button', { name: 'Delete WS_ONLY' }).click();
    const wsConfirm = page.getByRole('form', { name: 'Delete WS_ONLY' });
    await wsConfirm.getByLabel('Key to delete').fill('WS_ONLY');
    await wsConfirm.getByRole('button', { name: 'Delete secret' }).click();
    await wsRow.waitFor({ state: 'detached' });
    const wsLeft = JSON.parse((await curlTenant(rig.tenantUrl, rig.orgKey, `/workspaces/${workspaceId}/secrets`)).body) as Array<{ key: string }>;
    assert.deepEqual(wsLeft.map((s) => s.key), ['ORG_SHARED']);
    assert.equal((await curlTenant(rig.tenantUrl, rig.orgKey, '/settings/secrets/ORG_SHARED', 'DELETE')).status, 200);
    await assertNoValue(page);
    await page.close();
  });

  it('audit: the writes are listed, filters narrow, older pages in, live tail follows curl, the chain verifies', async () => {
    // More entries than one page holds (50), so that "Older entries" has something to fetch.
    for (let i = 0; i < 60; i++) assert.equal((await onTenant(rig.tenantUrl, '/settings/secrets', { headers: asKey() })).status, 200);
    const page = await rig.tenantPage('audit');
    const table = page.getByRole('table');
    await table.waitFor();
    const pathCells = () => table.locator('tbody tr td:nth-child(4)').allInnerTexts();
    // The secret writes made in the UI are there, with the session's actor.
    for (const [method, p] of [
      ['POST', '/settings/secrets'],
      ['PUT', '/settings/secrets'],
      ['DELETE', '/settings/secrets/CONSOLE_TOKEN'],
      ['POST', `/workspaces/${workspaceId}/secrets`],
      ['DELETE', `/workspaces/${workspaceId}/secrets/WS_ONLY`],
    ]) {
      const r = table
        .getByRole('row')
        .filter({ has: page.getByRole('cell', { name: method!, exact: true }) })
        .filter({ has: page.getByRole('cell', { name: p!, exact: true }) })
        .filter({ hasText: 'session:' })
        .first();
      // Older than the pages shown: page back until it shows (by the cursor the API returned).
      while ((await r.count()) === 0) {
        const rows = await table.locator('tbody tr').count();
        await page.getByRole('button', { name: 'Older entries' }).click();
        await until('an older page', async () => (await table.locator('tbody tr').count()) > rows);
      }
      assert.match(await r.innerText(), /session:/);
    }
    await check(page, 'tenant-audit');

    // Paging: a fresh load shows one page; "Older entries" appends the next by cursor.
    await page.reload();
    await table.waitFor();
    const firstPage = (await pathCells()).length;
    assert.equal(firstPage, 50);
    await page.getByRole('button', { name: 'Older entries' }).click();
    await until('the second page', async () => (await table.locator('tbody tr').count()) > 50);
    await check(page, 'tenant-audit-older');

    // Filter by path: only the workspace's entries remain.
    const filters = page.getByRole('form', { name: 'Filter' });
    await filters.getByLabel('Path starts with').fill('/workspaces/');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await until('the path filter', async () => {
      const paths = await pathCells();
      return paths.length > 0 && paths.every((p) => p.startsWith('/workspaces/'));
    });
    const narrowed = await pathCells();
    assert.ok(narrowed.length > 0 && narrowed.length < firstPage, `${narrowed.length} rows`);
    assert.ok(narrowed.every((p) => p.startsWith('/workspaces/')), narrowed.join(' '));
    await check(page, 'tenant-audit-filtered');

    // The org key's entries by its prefix (the Credential field names the key's actor).
    const prefix = rig.orgKey.slice(0, 13);
    await filters.getByLabel('Path starts with').fill('');
    await filters.getByLabel('Credential').fill(prefix);
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await until('the credential filter', async () => {
      const actors = await table.locator('tbody tr td:nth-child(2)').allInnerTexts();
      return actors.length > 0 && actors.every((a) => a === `org-token:${prefix}`);
    });

    // Nothing matches: the empty state. A status the server refuses: its message and request id.
    await filters.getByLabel('Credential').fill('');
    await filters.getByLabel('Path starts with').fill('/no-such-path');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No audit entries match.').waitFor();
    await check(page, 'tenant-audit-empty');
    await filters.getByLabel('Path starts with').fill('');
    await filters.getByLabel('Status').fill('600');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Could not read the audit trail' });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /status[\s\S]*Request id: \S+/);
    await check(page, 'tenant-audit-error');
    await filters.getByRole('button', { name: 'Clear' }).click();
    await table.waitFor();

    // Live tail: an entry made with curl meanwhile shows up on top, announced, without a reload.
    await page.getByLabel('Live tail').check();
    await page.getByText('Following: new entries appear on top').waitFor();
    const marker = `/workspaces/${workspaceId}/secrets`;
    const before = await table.getByRole('row').filter({ hasText: `org-token:${prefix}` }).filter({ hasText: marker }).count();
    assert.equal((await curlTenant(rig.tenantUrl, rig.orgKey, marker)).status, 200);
    const fresh = table.locator('tr.audit-new').filter({ hasText: `org-token:${prefix}` }).filter({ hasText: marker });
    await fresh.first().waitFor({ timeout: 30_000 });
    assert.equal(await table.getByRole('row').filter({ hasText: `org-token:${prefix}` }).filter({ hasText: marker }).count(), before + 1);
    assert.match(await page.locator('p[aria-live="polite"]').innerText(), /New entr/);
    // Two polls later, still none of the tail's own reads of the audit among the new rows.
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => new URL(r.url()).pathname === '/audit');
    const livePaths = await table.locator('tr.audit-new td:nth-child(4)').allInnerTexts();
    assert.ok(livePaths.length > 0 && livePaths.every((p) => !p.startsWith('/audit')), `the tail hides its own polling: ${livePaths.join(' ')}`);
    await check(page, 'tenant-audit-live');
    await page.getByLabel('Live tail').uncheck();

    // Verify chain: ok, with how many entries were checked.
    await page.getByRole('button', { name: 'Verify chain' }).click();
    const verdict = page.locator('.audit-verify-result');
    await verdict.getByText('Chain intact.').waitFor();
    assert.match(await verdict.innerText(), /\d+ entries checked/);
    assert.equal(await verdict.getAttribute('role'), 'status');
    await check(page, 'tenant-audit-verified');

    // Export: NDJSON, one event a line.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export NDJSON' }).click()]);
    assert.equal(download.suggestedFilename(), 'audit.ndjson');
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    assert.ok(lines.length > 60);
    assert.equal(typeof (JSON.parse(lines[0]!) as { seq: unknown }).seq, 'number');

    assert.deepEqual(rig.cspViolations, [], 'no CSP violation on any page');
    await page.close();
  });
});
