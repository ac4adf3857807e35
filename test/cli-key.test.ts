/** `molecule key …` end to end: the real binary against a real tenant on loopback. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { runCli } from './support/cli.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

interface Minted {
  id: string;
  name: string;
  prefix: string;
  role: string;
  workspace_ids: string[] | null;
  expires_at: string | null;
  approval_required: boolean;
  auth_token: string;
  warning: string;
}

forEachDatabase('CLI key', (kind) => {
  let t: TestTenant;
  let env: Record<string, string>;
  let workspaceId: string;

  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { WORKSPACE_PROVISIONER: 'none' } });
    env = { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId, MOLECULE_API_KEY: (await t.mintKey({ name: 'cli-admin' })).auth_token };
    workspaceId = (await t.createWorkspace({ name: 'bound' })).id;
  });
  after(async () => {
    await t.close();
  });

  it('key create: the plaintext once with the warning and an export line; --json is the mint response; the key works', async () => {
    const human = await runCli(['key', 'create', '--name', 'ci', '--role', 'editor', '--expires-in', '30d'], { env });
    assert.equal(human.code, 0, human.stderr);
    const token = /^(mola_\S+)$/m.exec(human.stdout)?.[1];
    assert.ok(token, human.stdout);
    assert.match(human.stdout, new RegExp(`export MOLECULE_API_KEY=${token}`));
    assert.match(human.stderr, /copy this token now; it will not be shown again/);
    assert.match(human.stdout, /created key ci \(tok_\w+\), role editor, expires/);
    const works = await runCli(['workspace', 'list', '--json'], { env: { ...env, MOLECULE_API_KEY: token! } });
    assert.equal(works.code, 0, works.stderr);

    const json = await runCli(['key', 'create', '--name', 'agent', '--role', 'reader', '--workspace', 'bound', '--approval-required', '--expires-in', '12h', '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const minted = json.json<Minted>();
    for (const f of ['id', 'name', 'prefix', 'role', 'workspace_ids', 'expires_at', 'created_by', 'created_at', 'approval_required', 'auth_token', 'warning']) assert.ok(f in minted, `mint --json lacks ${f}`);
    assert.deepEqual([minted.name, minted.role, minted.workspace_ids, minted.approval_required], ['agent', 'reader', [workspaceId], true]);
    const hours = (Date.parse(minted.expires_at!) - Date.now()) / 3_600_000;
    assert.ok(hours > 11.9 && hours <= 12, String(hours));
  });

  it('key list and its filters; --json has the API\'s fields and no secret', async () => {
    await t.mintKey({ name: 'short', expires_at: new Date(Date.now() + 2000).toISOString() });
    const all = await runCli(['key', 'list', '--json'], { env });
    assert.equal(all.code, 0, all.stderr);
    const rows = all.json<Array<Record<string, unknown>>>();
    assert.deepEqual(Object.keys(rows[0]!).sort(), ['approval_required', 'created_at', 'created_by', 'expires_at', 'id', 'last_used_at', 'name', 'prefix', 'replaced_by', 'role', 'rotated_from', 'workspace_ids']);
    assert.doesNotMatch(all.stdout, /auth_token/);
    const names = (r: Array<Record<string, unknown>>) => r.map((k) => k['name']).sort();
    assert.ok(names(rows).includes('short') && names(rows).includes('cli-admin'), names(rows).join(','));
    const forever = (await runCli(['key', 'list', '--no-expiry', '--json'], { env })).json<Array<Record<string, unknown>>>();
    assert.ok(forever.length >= 1 && forever.every((k) => k['expires_at'] === null), JSON.stringify(forever));
    assert.ok(names(forever).includes('cli-admin') && !names(forever).includes('short'));
    // --expired: keys on their way out. The server drops a key once expired; a rotated one lists until its grace ends.
    assert.deepEqual(names((await runCli(['key', 'list', '--expired', '--json'], { env })).json()), []);
    const retiring = await t.mintKey({ name: 'retiring' });
    const rot = await t.app.inject({ method: 'POST', url: `/org/tokens/${retiring.id}/rotate`, headers: t.admin(), payload: { grace_seconds: 3600 } });
    assert.equal(rot.statusCode, 200, rot.body);
    const expiring = (await runCli(['key', 'list', '--expired', '--json'], { env })).json<Array<Record<string, unknown>>>();
    assert.deepEqual(expiring.map((k) => [k['name'], k['id']]), [['retiring', retiring.id]]);
    // Wait (on the clock, not on a guess) for "short" to pass its expiry: then it is gone from every list.
    while (Date.now() < Date.parse(rows.find((k) => k['name'] === 'short')!['expires_at'] as string) + 50) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!names((await runCli(['key', 'list', '--json'], { env })).json()).includes('short'));
    assert.deepEqual(names((await runCli(['key', 'list', '--unused-days', '1', '--json'], { env })).json()), []);
    const table = await runCli(['key', 'ls'], { env });
    assert.match(table.stdout, /^\s*ID\s+NAME\s+PREFIX\s+ROLE/m);
    assert.match(table.stdout, /retiring\s+mola_\w+\s+admin\s+all\s+in 60 min\s+never/);
  });

  it('key rotate (--grace) and revoke by name or prefix (needs --yes in pipes); failures exit by the table', async () => {
    await t.mintKey({ name: 'to-rotate' });
    const rotated = await runCli(['key', 'rotate', 'to-rotate', '--grace', '0', '--json'], { env });
    assert.equal(rotated.code, 0, rotated.stderr);
    const body = rotated.json<Minted & { previous_expires_at: string | null; rotated_from: string }>();
    assert.equal(body.name, 'to-rotate');
    assert.ok(body.auth_token.startsWith('mola_'));
    assert.ok(body.previous_expires_at && Date.parse(body.previous_expires_at) <= Date.now() + 1000);

    const refused = await runCli(['key', 'revoke', body.prefix], { env });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /pass --yes/);
    const revoked = await runCli(['key', 'revoke', body.prefix, '--yes'], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked key to-rotate/);
    const dead = await runCli(['workspace', 'list'], { env: { ...env, MOLECULE_API_KEY: body.auth_token } });
    assert.equal(dead.code, 4);

    const unknown = await runCli(['key', 'revoke', 'nothing-like-this', '--yes'], { env });
    assert.equal(unknown.code, 6);
    const unknownRotate = await runCli(['key', 'rotate', 'tok_01HZZZZZZZZZZZZZZZZZZZZZZZ'], { env });
    assert.equal(unknownRotate.code, 6);
    const badRole = await runCli(['key', 'create', '--name', 'x', '--role', 'owner'], { env });
    assert.equal(badRole.code, 3);
    const badDuration = await runCli(['key', 'create', '--name', 'x', '--expires-in', 'soon'], { env });
    assert.equal(badDuration.code, 3);
    assert.match(badDuration.stderr, /--expires-in must be a duration like 30d/);
    const noName = await runCli(['key', 'create'], { env });
    assert.equal(noName.code, 3);
    const editor = (await t.mintKey({ name: 'ed', role: 'editor' })).auth_token;
    const forbidden = await runCli(['key', 'create', '--name', 'x'], { env: { ...env, MOLECULE_API_KEY: editor } });
    assert.equal(forbidden.code, 5, forbidden.stderr);
    assert.match(forbidden.stderr, /\[403 [A-Z_]+\] \(request [^)]+\)/);
    const anonymous = await runCli(['key', 'list'], { env: { MOLECULE_API_URL: t.url, MOLECULE_ORG_ID: t.orgId } });
    assert.equal(anonymous.code, 4);
  });
});
