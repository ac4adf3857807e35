/**
 * The console's Approvals and Templates & org import pages (issue 14) in Chromium, against `molecule-platform up` with
 * secret writes gated (TENANT_ENV_APPROVAL_GATED_ACTIONS reaches every tenant through the CP's passthrough).
 *
 * Approvals: the org key's gated secret write answers 202; the page (the demo owner's session, another principal)
 * shows it live with what exactly is asked (the value only as a hash), approve → the identical retry runs once; a
 * second one denied → the retry is held again, not run; the owner's own gated request cannot be approved by the owner
 * (the server's 403 message and request id on the item).
 * Templates: the built-ins listed, a built-in's delete refused (409 shown), a template imported from files picked in
 * the browser, viewed, deleted with its typed name; the starter org template planned (creates), applied (the
 * workspaces exist over HTTP), planned again (all skip); reconcile shows a removal; a template needing a secret shows
 * the preflight; the org exported as YAML. Every state axe-checked and screenshotted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { check, consoleSkip, onTenant, startConsole, type ConsoleRig } from './support/console.js';

describe('console: approvals, templates and org import', { skip: consoleSkip() }, () => {
  let rig: ConsoleRig;
  const asKey = (p: string, method = 'GET', body?: unknown) =>
    onTenant(rig.tenantUrl, p, { method, headers: { authorization: `Bearer ${rig.orgKey}`, 'x-molecule-org-slug': 'acme' }, ...(body !== undefined ? { body } : {}) });

  before(async () => {
    // The org key (org-token) and the owner's session are gated for secret writes; either can approve the other's.
    rig = await startConsole({ TENANT_ENV_APPROVAL_GATED_ACTIONS: 'secret_write', TENANT_ENV_APPROVAL_GATED_CLASSES: 'org-token,session' });
  });

  after(async () => {
    await rig?.stop();
  });

  it('approvals: a gated write shows up live, approve → the retry runs once; deny → the retry is held again; no self-approval', async () => {
    const page = await rig.tenantPage('approvals');
    await page.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
    await page.getByText('Nothing is waiting for a decision.').waitFor();
    await check(page, 'tenant-approvals-empty');

    const write = { key: 'CONSOLE_GATED', value: 'first-value-not-shown' };
    const held = await asKey('/settings/secrets', 'POST', write);
    assert.equal(held.status, 202, held.text);
    const first = (held.json as { approval_id: string; status: string }).approval_id;
    assert.equal((held.json as { status: string }).status, 'pending_approval');

    // Live: the page polls; no reload.
    const item = page.getByRole('listitem', { name: /set org-wide secret CONSOLE_GATED/ });
    await item.waitFor({ timeout: 30_000 });
    const text = await item.innerText();
    assert.match(text, /whole org/);
    assert.match(text, /org-token:/);
    assert.match(text, /Secret name\s+CONSOLE_GATED/);
    assert.match(text, /Value \(keyed hash/);
    assert.doesNotMatch(text, /first-value-not-shown/);
    await check(page, 'tenant-approvals-pending');

    await item.getByRole('button', { name: /^Approve/ }).click();
    await item.waitFor({ state: 'detached' });
    const decided = page.getByRole('region', { name: 'Decided here' });
    await decided.getByRole('cell', { name: 'approved' }).waitFor();
    await check(page, 'tenant-approvals-approved');

    // The identical request runs once: the next identical one is held again.
    const ran = await asKey('/settings/secrets', 'POST', write);
    assert.ok(ran.status === 200 || ran.status === 201, `${ran.status} ${ran.text}`);
    await decided.getByRole('cell', { name: 'consumed' }).waitFor({ timeout: 30_000 });
    const again = await asKey('/settings/secrets', 'POST', write);
    assert.equal(again.status, 202, again.text);
    const second = (again.json as { approval_id: string }).approval_id;
    assert.notEqual(second, first);

    // The second one denied: the retry does not run (held for a new approval).
    const next = page.getByRole('listitem', { name: /set org-wide secret CONSOLE_GATED/ });
    await next.waitFor({ timeout: 30_000 });
    await next.getByRole('button', { name: /^Deny/ }).click();
    await next.waitFor({ state: 'detached' });
    await decided.getByRole('cell', { name: 'denied' }).waitFor();
    const refused = await asKey('/settings/secrets', 'POST', write);
    assert.equal(refused.status, 202, refused.text);
    const third = (refused.json as { approval_id: string }).approval_id;
    assert.ok(third !== first && third !== second);
    const denied = await asKey(`/approvals/${second}`);
    assert.equal((denied.json as { status: string }).status, 'denied');
    await check(page, 'tenant-approvals-denied');

    // The owner's own gated write (its session, from this page's origin): the owner cannot approve it.
    const own = await page.evaluate(async () => {
      const r = await fetch('/settings/secrets', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-molecule-org-slug': 'acme' },
        body: JSON.stringify({ key: 'OWNER_GATED', value: 'owner-value' }),
      });
      return { status: r.status, body: (await r.json()) as { approval_id?: string } };
    });
    assert.equal(own.status, 202, JSON.stringify(own.body));
    const mine = page.getByRole('listitem', { name: /set org-wide secret OWNER_GATED/ });
    await mine.waitFor({ timeout: 30_000 });
    assert.match(await mine.innerText(), /session:/);
    await mine.getByRole('button', { name: /^Approve/ }).click();
    const alert = mine.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Could not record the decision[\s\S]*cannot decide it[\s\S]*Request id: \S+/);
    await check(page, 'tenant-approvals-self');
    // Another principal (the org key) can: it leaves the list.
    const byKey = await asKey(`/approvals/${own.body.approval_id}/decide`, 'POST', { decision: 'denied' });
    assert.equal(byKey.status, 200, byKey.text);
    await mine.waitFor({ state: 'detached', timeout: 30_000 });
    await page.close();
  });

  it('templates: built-ins listed, import from files, view, delete; a built-in’s delete is refused', async () => {
    const page = await rig.tenantPage('templates');
    await page.getByRole('heading', { name: 'Templates', level: 1 }).waitFor();
    const list = page.getByRole('table', { name: 'Workspace templates' });
    for (const id of ['shell-agent', 'node-agent']) await list.getByRole('cell', { name: id, exact: true }).waitFor();
    await page.getByRole('radio', { name: /Starter/ }).waitFor();
    await check(page, 'tenant-templates-list');

    // A built-in cannot be deleted: the server's 409 and request id.
    await list.getByRole('button', { name: 'Delete Shell agent' }).click();
    const confirmBuiltin = page.getByRole('form', { name: 'Delete Shell agent' });
    await confirmBuiltin.getByLabel('Template name').fill('Shell agent');
    await confirmBuiltin.getByRole('button', { name: 'Delete template' }).click();
    const refusal = confirmBuiltin.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /Could not delete the template[\s\S]*built-in template cannot be deleted[\s\S]*Request id: \S+/);
    await check(page, 'tenant-templates-delete-refused');
    await confirmBuiltin.getByRole('button', { name: 'Cancel' }).click();

    // Import from files read in the browser.
    const form = page.getByRole('form', { name: 'Import a template' });
    await form.getByLabel('Template name').fill('console-tpl');
    await form.getByLabel('Files', { exact: true }).setInputFiles([
      { name: 'README.md', mimeType: 'text/markdown', buffer: Buffer.from('# Console template\nImported from the browser.\n') },
      { name: 'system-prompt.md', mimeType: 'text/markdown', buffer: Buffer.from('You are a careful agent.\n') },
    ]);
    await form.getByText('2 files to import:').waitFor();
    await check(page, 'tenant-templates-import-ready');
    await form.getByRole('button', { name: 'Import template' }).click();
    await form.getByRole('status').filter({ hasText: 'Imported' }).waitFor();
    await list.getByRole('cell', { name: 'console-tpl', exact: true }).waitFor();
    await check(page, 'tenant-templates-imported');

    // View it: its files, and their contents on demand.
    await form.getByRole('link', { name: 'console-tpl' }).click();
    await page.getByRole('heading', { name: 'Template console-tpl' }).waitFor();
    const files = page.getByRole('list', { name: 'Template files' });
    for (const f of ['README.md', 'system-prompt.md', 'config.yaml']) await files.getByText(f, { exact: true }).waitFor();
    await page.getByLabel('Show contents').check();
    await page.getByLabel('Contents of README.md').waitFor();
    assert.match(await page.getByLabel('Contents of README.md').innerText(), /Imported from the browser/);
    await check(page, 'tenant-templates-view');

    // Delete it with its typed name.
    await page.getByRole('link', { name: 'All templates' }).click();
    await list.getByRole('button', { name: 'Delete console-tpl' }).click();
    const confirm = page.getByRole('form', { name: 'Delete console-tpl' });
    const del = confirm.getByRole('button', { name: 'Delete template' });
    await confirm.getByLabel('Template name').fill('console-tp');
    assert.equal(await del.isDisabled(), true);
    await confirm.getByLabel('Template name').fill('console-tpl');
    await check(page, 'tenant-templates-delete');
    await del.click();
    await list.getByRole('cell', { name: 'console-tpl', exact: true }).waitFor({ state: 'detached' });
    assert.equal((await asKey('/templates/console-tpl')).status, 404);

    // A template that is not there: the error state with the request id.
    await page.goto(`${rig.tenantUrl}/app/templates/no-such-template`);
    const missing = page.getByRole('alert');
    await missing.waitFor();
    assert.match(await missing.innerText(), /Could not read template no-such-template[\s\S]*Request id: \S+/);
    await check(page, 'tenant-templates-notfound');
    await page.close();
  });

  it('org import: the plan first (creates), apply, the workspaces exist, plan again → all skip; reconcile and preflight shown', async () => {
    const page = await rig.tenantPage('templates');
    const orgForm = page.getByRole('form', { name: 'Org import' });
    await orgForm.getByRole('radio', { name: /Starter/ }).check();
    await orgForm.getByRole('button', { name: 'Show the plan' }).click();
    const plan = page.getByRole('table', { name: 'Import plan' });
    await plan.waitFor();
    const planned = await plan.getByRole('row').allInnerTexts();
    assert.ok(planned.length > 1);
    for (const row of planned.slice(1)) assert.match(row, /^create/, row);
    assert.match(planned.join('\n'), /Lead\/Researcher/);
    await check(page, 'tenant-templates-org-plan');

    await page.getByRole('button', { name: /^Apply Starter/ }).click();
    const result = page.getByRole('status').filter({ hasText: 'Imported:' });
    await result.waitFor({ timeout: 120_000 });
    assert.match(await result.innerText(), /Imported: [1-9]\d* created, 0 skipped/);
    await check(page, 'tenant-templates-org-applied');
    const workspaces = await asKey('/workspaces');
    assert.equal(workspaces.status, 200);
    const names = (workspaces.json as Array<{ name: string }>).map((w) => w.name);
    for (const n of ['Lead', 'Researcher', 'Reviewer']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);

    // Planned again: everything is there.
    await orgForm.getByRole('button', { name: 'Show the plan' }).click();
    await plan.waitFor();
    await page.getByRole('heading', { name: /Plan \(merge\): 0 to create/ }).waitFor();
    const again = await plan.getByRole('row').allInnerTexts();
    for (const row of again.slice(1)) assert.match(row, /^skip/, row);
    assert.equal(await page.getByRole('button', { name: /^Apply Starter/ }).isDisabled(), true);
    await check(page, 'tenant-templates-org-skip');

    // Reconcile: a workspace the template does not list is planned for removal, with a warning.
    const stray = await asKey('/workspaces', 'POST', { name: 'Stray' });
    assert.ok(stray.status === 201 || stray.status === 202 || stray.status === 200, `${stray.status} ${stray.text}`);
    await orgForm.getByRole('radio', { name: /^Reconcile/ }).check();
    await orgForm.getByRole('button', { name: 'Show the plan' }).click();
    await page.getByRole('heading', { name: /Plan \(reconcile\): 0 to create, \d+ to skip, 1 to remove/ }).waitFor();
    await plan.getByRole('row').filter({ hasText: 'Stray' }).filter({ hasText: 'remove' }).waitFor();
    await page.getByRole('note').filter({ hasText: 'Reconcile removes 1 workspace' }).waitFor();
    await check(page, 'tenant-templates-org-reconcile');

    // A template that needs an org-wide secret: the preflight says which, and Apply stays off.
    await orgForm.getByRole('radio', { name: /^Merge/ }).check();
    await orgForm.getByRole('radio', { name: /Research team/ }).check();
    await orgForm.getByRole('button', { name: 'Show the plan' }).click();
    const preflight = page.getByRole('alert').filter({ hasText: 'Missing org-wide secrets' });
    await preflight.waitFor();
    assert.match(await preflight.innerText(), /ANTHROPIC_API_KEY/);
    assert.equal(await page.getByRole('button', { name: /^Apply Research team/ }).isDisabled(), true);
    await check(page, 'tenant-templates-org-preflight');

    // Export the org.
    await page.getByRole('button', { name: 'Export as YAML' }).click();
    const yaml = page.getByLabel('Exported org template');
    await yaml.waitFor();
    assert.match(await yaml.innerText(), /Lead/);
    await page.getByRole('link', { name: 'Download org.yaml' }).waitFor();
    await check(page, 'tenant-templates-org-export');

    assert.deepEqual(rig.cspViolations, [], 'no CSP violation on any page');
    await page.close();
  });
});
