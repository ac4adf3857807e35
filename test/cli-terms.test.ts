/**
 * `molecule auth terms`: a new account cannot create orgs until it accepts the terms; the CLI says so with a hint,
 * shows the state, and accepts only when asked (and confirmed: --yes without a terminal).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startTestControlPlane, type TestControlPlane } from './cp-harness.js';
import { forEachDatabase } from './harness.js';
import { runCli } from './support/cli.js';

forEachDatabase('molecule auth terms', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
  });
  after(() => cp.close());

  it('org create answers with the hint; terms --accept needs --yes without a terminal, then org create works', async () => {
    const user = await cp.signup({ acceptTerms: false });
    const env = { MOLECULE_CP_URL: cp.url, MOLECULE_SESSION: user.cookie.slice(user.cookie.indexOf('=') + 1) };
    const refused = await runCli(['org', 'create', 'terms-first', '--no-wait'], { env });
    assert.equal(refused.code, 7, refused.stderr);
    assert.match(refused.stderr, /\[412 TERMS_NOT_ACCEPTED\]/);
    assert.match(refused.stderr, /hint: run `molecule auth terms --accept`/);

    const status = await runCli(['auth', 'terms', '--json'], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.json<{ accepted: boolean }>().accepted, false);
    const unconfirmed = await runCli(['auth', 'terms', '--accept'], { env });
    assert.equal(unconfirmed.code, 3);
    assert.equal((await runCli(['auth', 'terms', '--json'], { env })).json<{ accepted: boolean }>().accepted, false, 'nothing accepted');

    const accepted = await runCli(['auth', 'terms', '--accept', '--yes', '--json'], { env });
    assert.equal(accepted.code, 0, accepted.stderr);
    const body = accepted.json<{ accepted: boolean; version: string; accepted_version: string }>();
    assert.equal(body.accepted, true);
    assert.equal(body.accepted_version, body.version);
    const created = await runCli(['org', 'create', 'terms-first', '--no-wait', '--json'], { env });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.json<{ slug: string }>().slug, 'terms-first');
  });
});
