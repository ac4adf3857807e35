/**
 * The console's Workspaces page in a real browser (issue 14): the empty list, a refused create showing the server's
 * message and request id, a create from a built-in template whose row goes online by itself (the page's event stream,
 * no reload), the workspace's process facts and events, restart (a new process id), pause and resume, and a delete
 * confirmed by typing the name — held by the approval gate first (202), then approved by another principal and run —,
 * the stream indicator going "reconnecting…" and back to "live", the loading state, and a missing workspace's error.
 * Every state passes axe-core and is screenshotted at 1280 px and 390 px (test-output/console/tenant-workspaces-*).
 *
 * Without Chromium (CHROMIUM_PATH, else /usr/bin/chromium) this file is skipped outside CI and fails under CI=true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { check, consoleSkip, curlTenant, onTenant, startConsole, type ConsoleRig } from './support/console.js';

/** Starting a process and its first status report can take a while on a loaded CI machine. */
const ONLINE_MS = 90_000;

/** The status word in the workspace page's headline badge. */
const headline = (page: Page) => page.locator('.ws-headline [data-status]');

async function waitForStatus(page: Page, status: string): Promise<void> {
  await page.locator(`.ws-headline [data-status="${status}"]`).waitFor({ timeout: ONLINE_MS });
}

/** The "Process id" fact as shown. */
async function pidShown(page: Page): Promise<string> {
  return (await page.locator('.fact').filter({ has: page.locator('dt', { hasText: /^Process id$/ }) }).locator('dd').innerText()).trim();
}

describe('console: workspaces', { skip: consoleSkip() }, () => {
  let rig: ConsoleRig;

  before(async () => {
    // The console's session is gated for deletions, so the page's 202 path runs for real (an org key approves).
    rig = await startConsole({ TENANT_ENV_APPROVAL_GATED_ACTIONS: 'workspace_delete', TENANT_ENV_APPROVAL_GATED_CLASSES: 'session' });
  });

  after(async () => {
    await rig?.stop();
  });

  it('lists live, creates from a template, shows process facts, restarts, pauses, resumes and deletes with the typed name', async () => {
    // On the context before the page exists: the page opens its stream as soon as it shows.
    const streams: string[] = [];
    rig.context.on('request', (r) => {
      if (new URL(r.url()).pathname === '/events/stream') streams.push(r.url());
    });
    const page = await rig.tenantPage();
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations++;
    });

    await page.getByRole('heading', { name: 'acme console' }).waitFor();
    await page.getByText('No workspaces yet.').waitFor();
    const live = page.getByTestId('live-state');
    await live.getByText('live', { exact: true }).waitFor();
    assert.equal(await live.getAttribute('aria-live'), 'polite');
    await check(page, 'tenant-workspaces-empty');

    // A name the server refuses: its message and the request id.
    const form = page.getByRole('form', { name: 'New workspace' });
    await form.getByLabel('Template').locator('option[value="shell-agent"]').waitFor({ state: 'attached' });
    await form.getByLabel('Template').selectOption('shell-agent');
    await form.getByLabel('Name', { exact: true }).fill('bad{name}');
    await form.getByRole('button', { name: 'Create workspace' }).click();
    const refusal = form.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /Could not create the workspace[\s\S]*must not contain[\s\S]*Request id: \S+/);
    await check(page, 'tenant-workspaces-create-error');

    // From a built-in template: the row appears at once and goes online through the event stream, without a reload.
    await form.getByLabel('Name', { exact: true }).fill('console-ws');
    await form.getByLabel('Isolation tier').selectOption('3');
    await form.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'Created console-ws' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'console-ws' });
    await row.waitFor();
    await row.locator('[data-status="online"]').waitFor({ timeout: ONLINE_MS });
    assert.equal(await form.getByRole('alert').count(), 0, 'the earlier error is gone');
    assert.equal(navigations, 0, 'no reload: the status came over the event stream');
    assert.ok(streams.length >= 1, 'the page follows GET /events/stream');
    await check(page, 'tenant-workspaces-online');

    // One workspace: its process facts and recent events.
    await row.getByRole('link', { name: 'console-ws' }).click();
    await page.getByRole('heading', { level: 1, name: 'console-ws' }).waitFor();
    await waitForStatus(page, 'online');
    const facts = page.getByRole('region', { name: 'Process facts' });
    await facts.waitFor();
    const text = await facts.innerText();
    for (const term of ['Template', 'Runtime', 'Model', 'Process id', 'Uptime', 'Restarts', 'Last error', 'URL']) assert.match(text, new RegExp(term), text);
    assert.match(text, /shell-agent/);
    const pid = await pidShown(page);
    assert.match(pid, /^\d+$/, `a process id: ${pid}`);
    const events = page.getByRole('region', { name: 'Recent events' });
    await events.getByText('WORKSPACE_ONLINE').first().waitFor();
    assert.match(await events.innerText(), /WORKSPACE_PROVISIONING/);
    // The runtime's own output, on demand (admin only; the server redacts secrets).
    await page.getByText('Recent output').click();
    await page.getByLabel('Last output lines, oldest first').getByText(/shell-agent: workspace \S+ started/).waitFor();
    await check(page, 'tenant-workspaces-detail');

    // Restart: a new process comes up and the page shows it online again by itself.
    await page.getByRole('button', { name: 'Restart console-ws' }).click();
    await page.getByText('Restart requested: the workspace is starting again.').waitFor();
    await page.waitForFunction(
      (old) => {
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document;
        const facts = Array.from(doc.querySelectorAll('.fact'));
        const pidFact = facts.find((f) => f.textContent?.startsWith('Process id'));
        const badge = doc.querySelectorAll('.ws-headline [data-status="online"]');
        return pidFact !== undefined && /\d/.test(pidFact.textContent ?? '') && pidFact.textContent !== `Process id${old}` && badge.length === 1;
      },
      pid,
      { timeout: ONLINE_MS },
    );
    assert.notEqual(await pidShown(page), pid, 'a new process');
    await events.getByText('WORKSPACE_ONLINE').nth(1).waitFor();
    await check(page, 'tenant-workspaces-restarted');

    // Pause, then resume.
    await page.getByRole('button', { name: 'Pause console-ws' }).click();
    await waitForStatus(page, 'paused');
    await page.getByRole('button', { name: 'Resume console-ws' }).waitFor();
    await check(page, 'tenant-workspaces-paused');
    await page.getByRole('button', { name: 'Resume console-ws' }).click();
    await waitForStatus(page, 'online');
    await page.getByRole('button', { name: 'Pause console-ws' }).waitFor();
    assert.equal(await headline(page).innerText(), 'online');

    // Delete: the button stays disabled until the typed name matches.
    const id = new URL(page.url()).pathname.split('/').pop()!;
    await page.getByRole('button', { name: 'Delete console-ws' }).click();
    const confirm = page.getByRole('form', { name: 'Delete console-ws' });
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('aria-label')), 'Delete console-ws');
    await page.keyboard.press('Enter');
    await confirm.waitFor();
    const remove = confirm.getByRole('button', { name: 'Delete workspace' });
    assert.equal(await remove.isDisabled(), true);
    await confirm.getByLabel('Workspace name').fill('console-w');
    assert.equal(await remove.isDisabled(), true);
    await confirm.getByLabel('Workspace name').fill('console-ws');
    assert.equal(await remove.isDisabled(), false);
    await check(page, 'tenant-workspaces-delete');

    // The session's deletion is gated (this rig's APPROVAL_GATED_*): 202, nothing removed, the approval id shown.
    await remove.click();
    const held = confirm.getByText('The deletion is waiting for approval.');
    await held.waitFor();
    const approvalId = (await confirm.locator('.warning code').innerText()).trim();
    assert.match(approvalId, /^apr_\w+$/);
    assert.equal((await curlTenant(rig.tenantUrl, rig.orgKey, `/workspaces/${id}`)).status, 200);
    await check(page, 'tenant-workspaces-delete-held');
    // Another principal (the demo org key) approves; the same request again then runs.
    const decided = await onTenant(rig.tenantUrl, `/workspaces/${id}/approvals/${approvalId}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rig.orgKey}`, 'x-molecule-org-slug': 'acme' },
      body: { decision: 'approved' },
    });
    assert.equal(decided.status, 200, decided.text);
    await remove.click();
    await page.waitForURL(`${rig.tenantUrl}/app/`);
    await page.getByText('No workspaces yet.').waitFor();
    const list = await curlTenant(rig.tenantUrl, rig.orgKey, '/workspaces');
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(
      (JSON.parse(list.body) as Array<{ id: string }>).map((w) => w.id),
      [],
    );

    // The stream cannot be reached (refused while the page comes back to the list): the indicator says so, and turns
    // live by itself once the stream answers again.
    await page.route('**/events/stream', (route) => route.abort('connectionrefused'));
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Templates' }).click();
    await page.waitForURL(`${rig.tenantUrl}/app/templates`);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Workspaces' }).click();
    await live.getByText('reconnecting…').waitFor();
    await check(page, 'tenant-workspaces-reconnecting');
    await page.unroute('**/events/stream');
    await live.getByText('live', { exact: true }).waitFor({ timeout: 60_000 });

    // Loading: a fresh load whose list answer is held back until the screenshot is taken.
    let release = () => {};
    const listHeld = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/workspaces', async (route) => {
      await listHeld;
      await route.continue();
    });
    await page.reload();
    await page.getByText('Loading workspaces…').waitFor();
    await check(page, 'tenant-workspaces-loading');
    release();
    await page.getByText('No workspaces yet.').waitFor();
    await page.unroute('**/workspaces');

    // A workspace that is not there: the server's message and request id.
    await page.goto(`${rig.tenantUrl}/app/workspaces/${id}`);
    const missing = page.getByRole('alert');
    await missing.waitFor();
    assert.match(await missing.innerText(), /Could not load the workspace[\s\S]*Request id: \S+/);
    await check(page, 'tenant-workspaces-not-found');

    assert.deepEqual(rig.cspViolations, [], 'no CSP violation on any page');
    await page.close();
  });
});
