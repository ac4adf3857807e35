/**
 * The `molecule` CLI against a real control plane on loopback (issue 13 item 2): org create with its live progress
 * bar in a real pty and its one-line-per-step output in pipes, org list/inspect/status/usage/delete with typed-name
 * confirmation, members and invitations, billing, partner keys (and `org create` with MOLECULE_PARTNER_KEY), and the
 * exit codes scripts branch on. The real binary every time; the provisioner's progress is driven by the test writing
 * the instance row as a provisioner would, so each step is observed before the next is taken (no sleeps).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { startTestControlPlane, uniqueSlug, type TestControlPlane, type TestUser } from './cp-harness.js';
import { forEachDatabase } from './harness.js';
import { CLI, freshConfigDir, runCli, runCliInTerminal } from './support/cli.js';
import { until } from './support/platform.js';
import { RecordingProvisioner } from './support/recording-provisioner.js';

type Row = Record<string, unknown>;

/** A CLI run in pipes whose stderr can be waited on while it runs (to drive provisioning one observed step at a time). */
function runCliWatched(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NO_COLOR: '1', MOLECULE_CONFIG_DIR: freshConfigDir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return {
    done,
    stderrShows: (text: string) => until(`stderr shows ${JSON.stringify(text)}`, () => stderr.includes(text) || undefined, 60_000, 50),
  };
}

forEachDatabase('molecule CLI: control plane (orgs, members, billing, partner keys)', (kind) => {
  let cp: TestControlPlane;
  let owner: TestUser;
  const provisioner = new RecordingProvisioner();
  const sessionOf = (u: TestUser) => u.cookie.slice('mcp_session='.length);
  const as = (u: TestUser) => ({ MOLECULE_CP_URL: cp.url, MOLECULE_SESSION: sessionOf(u) });
  const admin = () => ({ MOLECULE_CP_URL: cp.url, MOLECULE_CP_ADMIN_TOKEN: cp.adminToken });

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true, provisioner });
    owner = await cp.signup({ verifyEmail: true });
  });
  after(() => cp.close());

  /** What a provisioner does as the tenant comes up: move the instance row forward (the endpoint reads it). */
  async function stage(slug: string, stageName: string, progress: number, message: string): Promise<void> {
    const org = await cp.db.selectFrom('organizations').select('id').where('slug', '=', slug).executeTakeFirstOrThrow();
    await cp.db.updateTable('org_instances').set({ stage: stageName, progress, message, eta_seconds: Math.max(0, 100 - progress) }).where('org_id', '=', org.id).execute();
  }
  async function markRunning(slug: string): Promise<void> {
    const org = await cp.db.selectFrom('organizations').select('id').where('slug', '=', slug).executeTakeFirstOrThrow();
    await cp.db.updateTable('org_instances').set({ status: 'running', stage: 'ready', progress: 100, message: 'ready', eta_seconds: 0, url: 'http://127.0.0.1:1' }).where('org_id', '=', org.id).execute();
    await cp.db.updateTable('organizations').set({ status: 'running' }).where('id', '=', org.id).execute();
  }
  const orgExists = async (slug: string) => (await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${slug}`, headers: cp.as(owner) })).statusCode;

  it('org create in a terminal: a live progress bar through each stage until running, then the org\'s URL', async () => {
    const slug = uniqueSlug('cli');
    const term = runCliInTerminal(['org', 'create', slug, '--name', 'Acme CLI'], { env: as(owner) });
    await term.waitFor(`${slug}: launching`);
    await stage(slug, 'installing', 35, 'installing the tenant');
    await term.waitFor('installing the tenant');
    await stage(slug, 'starting', 70, 'starting the tenant server');
    await term.waitFor('starting the tenant server');
    await markRunning(slug);
    const res = await term.done;
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /━/, 'the bar is drawn');
    assert.match(res.stdout, new RegExp(`${slug} is running at http://${slug}\\.localhost`));
    assert.match(res.stdout, new RegExp(`✓ Org ${slug} is running: http://${slug}\\.localhost`));
    // Stages appear in order.
    const out = res.stdout;
    assert.ok(out.indexOf('launching') < out.indexOf('installing the tenant') && out.indexOf('installing the tenant') < out.indexOf('starting the tenant server'), out);
  });

  it('org create without a terminal: one line per step on stderr; --json prints the final org on stdout', async () => {
    const slug = uniqueSlug('cli');
    const run = runCliWatched(['org', 'create', slug, '--json'], as(owner));
    await until('org created', async () => (await orgExists(slug)) === 200 || undefined, 60_000, 50);
    await stage(slug, 'installing', 40, 'installing the tenant');
    await markRunning(slug);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    const org = JSON.parse(res.stdout) as Row;
    assert.equal(org['slug'], slug);
    assert.equal(org['name'], slug, 'the name defaults to the slug');
    assert.equal(org['status'], 'running');
    assert.equal(org['plan'], 'free');
    assert.equal(org['role'], 'owner');
    for (const field of ['id', 'created_at', 'updated_at', 'credits_balance', 'provider']) assert.ok(field in org, `--json has ${field}`);
    // Under --json stderr carries only errors: no progress lines, no bar.
    assert.equal(res.stderr, '');

    const slug2 = uniqueSlug('cli');
    const lines = runCliWatched(['org', 'create', slug2], as(owner));
    await lines.stderrShows(`${slug2}: launching 0%`);
    await stage(slug2, 'starting', 65, 'starting the tenant server');
    await lines.stderrShows(`${slug2}: starting 65% — starting the tenant server (about 35 s left)`);
    await markRunning(slug2);
    const done = await lines.done;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, new RegExp(`${slug2}: ready 100% — ready\\n`));
    assert.equal(done.stderr.split('\n').filter((l) => l.includes('starting 65%')).length, 1, 'one line per change, not per poll');
    assert.match(done.stdout, new RegExp(`^✓ Org ${slug2} is running: http://${slug2}\\.localhost(:\\d+)?\\n$`));
  });

  it('org create: --no-wait returns at once; a failed provisioning exits 9 with the reason; errors map to exit codes', async () => {
    const slug = uniqueSlug('cli');
    const quick = await runCli(['org', 'create', slug, '--no-wait', '--json', '--plan', 'free'], { env: as(owner) });
    assert.equal(quick.code, 0, quick.stderr);
    assert.deepEqual([quick.json<Row>()['slug'], quick.json<Row>()['status']], [slug, 'provisioning']);

    const dup = await runCli(['org', 'create', slug, '--no-wait'], { env: as(owner) });
    assert.equal(dup.code, 7, dup.stderr);
    assert.match(dup.stderr, /^error: .*\[409 [A-Z_]+\] \(request [^)]+\)\n$/);

    const bad = await runCli(['org', 'create', 'Bad_Slug', '--no-wait'], { env: as(owner) });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /must be 3-32 characters: a lowercase letter, then lowercase letters, digits or hyphens/);
    assert.match(bad.stderr, /\[400 /);

    const nobody = await runCli(['org', 'list'], { env: { MOLECULE_CP_URL: cp.url } });
    assert.equal(nobody.code, 4);
    assert.match(nobody.stderr, /not signed in to the control plane/);

    const stranger = await cp.signup();
    const foreign = await runCli(['org', 'inspect', slug, '--json'], { env: as(stranger) });
    assert.equal(foreign.code, 6, foreign.stderr);
    assert.equal(JSON.parse(foreign.stderr).status, 404);

    provisioner.refuse = 'no capacity in this region';
    try {
      const failed = await runCli(['org', 'create', uniqueSlug('cli')], { env: as(owner) });
      assert.equal(failed.code, 9, failed.stderr);
      assert.match(failed.stderr, /error: provisioning cli-[0-9a-f]+ failed: no capacity in this region\n/);
    } finally {
      provisioner.refuse = null;
    }
  });

  it('org list / inspect / status / usage / open, and delete: refused without --yes in pipes, typed slug in a terminal', async () => {
    const org = await cp.createOrg(owner, { name: 'Listed Org' });
    await markRunning(org.slug);
    const list = await runCli(['org', 'list', '--json'], { env: as(owner) });
    assert.equal(list.code, 0, list.stderr);
    assert.ok(list.json<Row[]>().some((o) => o['slug'] === org.slug && o['role'] === 'owner'));
    const table = await runCli(['org', 'list'], { env: as(owner) });
    assert.match(table.stdout, /^\s*SLUG\s+NAME\s+PLAN\s+STATUS\s+ROLE\s+CREATED\n/);
    assert.match(table.stdout, new RegExp(`${org.slug}\\s+Listed Org\\s+free\\s+running\\s+owner\\s+just now`));

    const inspect = await runCli(['org', 'inspect', org.slug, '--json'], { env: as(owner) });
    assert.equal(inspect.code, 0, inspect.stderr);
    const body = inspect.json<Row & { instance: Row }>();
    assert.deepEqual([body['id'], body['slug'], body['status'], body.instance['instance_status']], [org.id, org.slug, 'running', 'running']);
    assert.match(String(body.instance['url']), new RegExp(`^http://${org.slug}\\.localhost`));
    const human = await runCli(['org', 'inspect', org.slug], { env: as(owner) });
    assert.match(human.stdout, new RegExp(`URL\\s+http://${org.slug}\\.localhost`));

    const status = await runCli(['org', 'status', org.slug, '--json'], { env: as(owner) });
    assert.deepEqual(status.json<{ provisioning: Row }>().provisioning['stage'], 'ready');
    const usage = await runCli(['org', 'usage', org.slug, '--json'], { env: as(owner) });
    assert.equal(usage.code, 0, usage.stderr);
    assert.equal(usage.json<Row>()['slug'], org.slug);
    assert.equal(typeof usage.json<Row>()['credits_balance'], 'number');
    const open = await runCli(['org', 'open', org.slug], { env: { MOLECULE_CP_URL: cp.url } });
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stdout, new RegExp(`^http://${org.slug}\\.localhost(:\\d+)?\\n$`));

    const refused = await runCli(['org', 'delete', org.slug], { env: as(owner) });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /refusing to delete org .* without confirmation: pass --yes/);
    assert.equal(await orgExists(org.slug), 200, 'nothing was deleted');

    const term = runCliInTerminal(['org', 'delete', org.slug], { env: as(owner) });
    await term.waitFor(new RegExp(`delete org ${org.slug}[^]*Type\\s+${org.slug}\\s+to\\s+confirm`));
    term.type('wrong\r');
    await term.waitFor(`type ${org.slug} exactly`);
    assert.equal(await orgExists(org.slug), 200, 'a wrong name deletes nothing');
    term.type(`\u0015${org.slug}\r`);
    const res = await term.done;
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, new RegExp(`✓ Deleted org ${org.slug}`));
    assert.equal(await orgExists(org.slug), 404);
  });

  it('members: invite by email, accept with the token from stdin, list, change role by email, remove with confirmation; invitations revoked', async () => {
    const org = await cp.createOrg(owner);
    const invitee = await cp.signup({ verifyEmail: true });
    const invite = await runCli(['member', 'invite', org.slug, invitee.email, '--role', 'member', '--json'], { env: as(owner) });
    assert.equal(invite.code, 0, invite.stderr);
    const inv = invite.json<Row>();
    assert.match(String(inv['invite_token']), /^moli_/);
    assert.equal(inv['email'], invitee.email.toLowerCase());

    const accepted = await runCli(['invitation', 'accept', '--json'], { env: as(invitee), input: `${String(inv['invite_token'])}\n` });
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.deepEqual([accepted.json<{ organization: Row }>().organization['slug'], accepted.json<Row>()['role']], [org.slug, 'member']);
    const again = await runCli(['invitation', 'accept'], { env: as(invitee), input: String(inv['invite_token']) });
    assert.equal(again.code, 6, 'a used token is not found');

    const list = await runCli(['members', 'list', org.slug, '--json'], { env: as(owner) });
    assert.deepEqual(list.json<Row[]>().map((m) => [m['user_id'], m['role']]), [[owner.userId, 'owner'], [invitee.userId, 'member']]);

    const role = await runCli(['member', 'role', org.slug, invitee.email.toUpperCase(), 'admin', '--json'], { env: as(owner) });
    assert.equal(role.code, 0, role.stderr);
    assert.deepEqual([role.json<Row>()['user_id'], role.json<Row>()['role']], [invitee.userId, 'admin']);
    const badRole = await runCli(['member', 'role', org.slug, invitee.email, 'king'], { env: as(owner) });
    assert.equal(badRole.code, 3);

    const open = await runCli(['member', 'invite', org.slug], { env: as(owner) });
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stdout, /^✓ Invited whoever holds the token to .*\nmoli_\S+\n$/, 'the token is the last line of stdout');
    assert.match(open.stderr, /shown only now/);
    const pending = await runCli(['member', 'invitations', org.slug, '--json'], { env: as(owner) });
    const openInv = pending.json<Row[]>().find((i) => i['email'] === null)!;
    assert.ok(openInv, pending.stdout);
    assert.equal('invite_token' in openInv, false);
    const revoke = await runCli(['member', 'revoke-invite', org.slug, String(openInv['id']), '--json'], { env: as(owner) });
    assert.deepEqual(revoke.json(), { revoked: openInv['id'] });
    const after = await runCli(['member', 'invitations', org.slug, '--json'], { env: as(owner) });
    assert.deepEqual(after.json(), []);

    const refused = await runCli(['member', 'remove', org.slug, invitee.email], { env: as(owner) });
    assert.equal(refused.code, 3);
    const unknown = await runCli(['member', 'remove', org.slug, 'nobody@example.com', '--yes'], { env: as(owner) });
    assert.equal(unknown.code, 6);
    const removed = await runCli(['member', 'remove', org.slug, invitee.email, '--yes'], { env: as(owner) });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`Removed ${invitee.email.toLowerCase().replace(/[.+]/g, '\\$&')} \\(${invitee.userId}\\) from ${org.slug}`));
    const gone = await runCli(['org', 'inspect', org.slug], { env: as(invitee) });
    assert.equal(gone.code, 6, 'a removed member no longer sees the org');
  });

  it('billing: plans without sign-in; checkout, session show and confirm, the invoice it wrote; a top-up cancelled; the portal URL', async () => {
    const plans = await runCli(['billing', 'plans', '--json'], { env: { MOLECULE_CP_URL: cp.url } });
    assert.equal(plans.code, 0, plans.stderr);
    assert.deepEqual(plans.json<Row[]>().map((p) => p['id']), ['free', 'starter', 'pro']);
    const table = await runCli(['billing', 'plans'], { env: { MOLECULE_CP_URL: cp.url } });
    assert.match(table.stdout, /^\s*PLAN\s+NAME\s+PRICE\s+WORKSPACES.*\n\s*free\s+Free\s+0\.00 USD \/ month/);

    const org = await cp.createOrg(owner);
    const none = await runCli(['billing', 'invoices', org.slug, '--json'], { env: as(owner) });
    assert.deepEqual(none.json(), []);
    const checkout = await runCli(['billing', 'checkout', org.slug, '--plan', 'starter', '--json'], { env: as(owner) });
    assert.equal(checkout.code, 0, checkout.stderr);
    const sessionId = String(checkout.json<Row>()['id']);
    assert.match(sessionId, /^bs_/);
    const show = await runCli(['billing', 'session', 'show', sessionId, '--json'], { env: as(owner) });
    assert.deepEqual([show.json<Row>()['kind'], show.json<Row>()['status'], show.json<Row>()['plan']], ['checkout', 'pending', 'starter']);
    const confirmed = await runCli(['billing', 'session', 'confirm', sessionId], { env: as(owner) });
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, new RegExp(`Session ${sessionId} completed: ${org.slug} is on starter`));
    const invoices = await runCli(['billing', 'invoices', '--json'], { env: as(owner) });
    const mine = invoices.json<Row[]>().filter((i) => i['org_slug'] === org.slug);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!['status'], 'paid');

    const topup = await runCli(['billing', 'topup', org.slug, '--amount', '500'], { env: as(owner) });
    assert.equal(topup.code, 0, topup.stderr);
    const topupId = /(bs_[0-9A-Z]+)/.exec(topup.stdout)![1]!;
    const cancelled = await runCli(['billing', 'sessions', 'cancel', topupId, '--json'], { env: as(owner) });
    assert.equal(cancelled.json<Row>()['status'], 'cancelled');
    const tooSmall = await runCli(['billing', 'topup', org.slug, '--amount', '5'], { env: as(owner) });
    assert.equal(tooSmall.code, 1);
    assert.match(tooSmall.stderr, /credits from 100 to 1000000/);

    const portal = await runCli(['billing', 'portal', org.slug], { env: as(owner) });
    assert.equal(portal.code, 0, portal.stderr);
    assert.match(portal.stdout, /^http:\/\/\S+\n$/);
  });

  it('partner keys: create (shown once), list and inspect without the key, org create with MOLECULE_PARTNER_KEY, revoke with confirmation', async () => {
    const partner = `reseller-${uniqueSlug('p')}`;
    const created = await runCli(
      ['partner-key', 'create', '--partner', partner, '--scopes', 'orgs:create,orgs:read,orgs:list', '--scopes', 'provision:status', '--rate-limit', '600', '--expires-in', '30d', '--json'],
      { env: admin() },
    );
    assert.equal(created.code, 0, created.stderr);
    const key = created.json<Row>();
    assert.match(String(key['key']), /^mol_pk_live_/);
    assert.deepEqual([key['partner_id'], key['scopes'], key['rate_limit'], key['org_id']], [partner, ['orgs:create', 'orgs:read', 'orgs:list', 'provision:status'], 600, null]);
    assert.ok(Math.abs(Date.parse(String(key['expires_at'])) - (Date.now() + 30 * 86_400_000)) < 3_600_000);

    const human = await runCli(['partner-key', 'create', '--partner', partner, '--scopes', 'orgs:read'], { env: admin() });
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, /only time the key is shown/);
    assert.match(human.stdout, /\nmol_pk_live_\S+\n$/);

    const list = await runCli(['partner-keys', 'list', '--partner', partner, '--json'], { env: admin() });
    assert.equal(list.json<Row[]>().length, 2);
    assert.ok(list.json<Row[]>().every((k) => !('key' in k)), 'a list never shows a key');
    const inspect = await runCli(['partner-key', 'inspect', String(key['id']), '--json'], { env: admin() });
    assert.deepEqual([inspect.json<Row>()['id'], inspect.json<Row>()['key_prefix'], 'key' in inspect.json<Row>()], [key['id'], key['key_prefix'], false]);

    const asPartner = { MOLECULE_CP_URL: cp.url, MOLECULE_PARTNER_KEY: String(key['key']) };
    const slug = uniqueSlug('pk');
    const run = runCliWatched(['org', 'create', slug, '--plan', 'pro', '--json'], asPartner);
    await until('partner org created', async () => (await cp.db.selectFrom('organizations').select('id').where('slug', '=', slug).executeTakeFirst()) ?? undefined, 60_000, 50);
    await markRunning(slug);
    const made = await run.done;
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual([JSON.parse(made.stdout).slug, JSON.parse(made.stdout).plan, JSON.parse(made.stdout).status], [slug, 'pro', 'running']);
    const partnerList = await runCli(['org', 'list', '--json'], { env: asPartner });
    assert.deepEqual(partnerList.json<Row[]>().map((o) => o['slug']), [slug]);

    const refused = await runCli(['partner-key', 'revoke', String(key['id'])], { env: admin() });
    assert.equal(refused.code, 3);
    const term = runCliInTerminal(['partner-key', 'revoke', String(key['id'])], { env: admin() });
    await term.waitFor(new RegExp(`revoke partner key ${String(key['id'])}[^]*Type\\s+${String(key['id'])}\\s+to\\s+confirm`));
    term.type(`${String(key['id'])}\r`);
    const revoked = await term.done;
    assert.equal(revoked.code, 0, revoked.stdout);
    const dead = await runCli(['org', 'list'], { env: asPartner });
    assert.equal(dead.code, 4, 'the revoked key is refused at once');
    const noAdmin = await runCli(['partner-key', 'list'], { env: { MOLECULE_CP_URL: cp.url, MOLECULE_CP_ADMIN_TOKEN: 'wrong-token' } });
    assert.equal(noAdmin.code, 4);
  });
});
