import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { isWellFormed } from '../src/core/credentials/format.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

forEachDatabase('workspaces as records', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  it('creates a workspace in provisioning with a UUID and a workspace token shown once', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/workspaces',
      headers: t.admin(),
      payload: { name: 'alpha', role: 'researcher', tier: 2, runtime: 'claude-code', template: 'shell-agent' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.match(body.id, UUID_RE);
    assert.equal(body.status, 'provisioning');
    assert.equal(body.workspace_access, 'none');
    assert.deepEqual([body.name, body.role, body.tier, body.runtime, body.template], ['alpha', 'researcher', 2, 'claude-code', 'shell-agent']);
    assert.equal(isWellFormed('workspaceToken', body.auth_token), true);
    // The token works on its own workspace and is stored only as a hash.
    const own = await t.app.inject({ method: 'GET', url: `/workspaces/${body.id}`, headers: t.as(body.auth_token) });
    assert.equal(own.statusCode, 200);
    assert.equal(own.json().id, body.id);
    assert.equal(own.body.includes('auth_token'), false);
    const row = await t.db.selectFrom('workspace_tokens').selectAll().where('workspace_id', '=', body.id).executeTakeFirstOrThrow();
    assert.notEqual(row.token_hash, body.auth_token);
    assert.equal(row.prefix, body.auth_token.slice(0, 13));
  });

  it('defaults tier to 3 and lists workspaces oldest first', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
    assert.equal(list.statusCode, 200);
    const ids: string[] = list.json().map((w: { id: string }) => w.id);
    assert.ok(ids.indexOf(a.id) < ids.indexOf(b.id));
    assert.equal(list.json().find((w: { id: string }) => w.id === a.id).tier, 3);
  });

  it('refuses bad bodies with a 400 naming the field and creates nothing', async () => {
    const count = async () => Number((await t.db.selectFrom('workspaces').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const cases: Array<[unknown, string, string]> = [
      [{}, 'name', 'invalid workspace payload'],
      [{ name: '' }, 'name', 'invalid workspace payload'],
      [{ name: 'a{b' }, 'name', 'invalid workspace fields'],
      [{ name: 'line\nbreak' }, 'name', 'invalid workspace fields'],
      [{ name: 'ok', role: 'x|y' }, 'role', 'invalid workspace fields'],
      [{ name: 'ok', tier: 9 }, 'tier', 'invalid workspace payload'],
      [{ name: 'ok', tier: '3' }, 'tier', 'invalid workspace payload'],
      [{ name: 'ok', parent_id: 'nope' }, 'parent_id', 'invalid workspace payload'],
      [{ name: 'ok', parent_id: randomUUID() }, 'parent_id', 'parent workspace not found'],
      [{ name: 'ok', template: '../../etc' }, 'template', 'invalid template'],
      [{ name: 'ok', colour: 'blue' }, 'colour', 'invalid workspace payload'],
      [{ name: 'x'.repeat(256) }, 'name', 'invalid workspace payload'],
    ];
    for (const [payload, field, error] of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.admin(), payload: payload as object });
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
      const body = res.json();
      assert.equal(body.error, error, JSON.stringify(payload));
      assert.ok(body.field === field || (body.fields ?? []).includes(field), `${JSON.stringify(payload)} names ${field}: ${res.body}`);
    }
    assert.equal(await count(), before);
  });

  it('refuses bad reference fields on create, naming each, and creates nothing', async () => {
    const count = async () => Number((await t.db.selectFrom('workspaces').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ workspace_dir: '/etc/foo' }, 'workspace_dir', 'invalid workspace directory'],
      [{ workspace_dir: 'relative/dir' }, 'workspace_dir', 'invalid workspace directory'],
      [{ workspace_dir: '/srv/../etc' }, 'workspace_dir', 'invalid workspace directory'],
      [{ workspace_access: 'everything' }, 'workspace_access', 'invalid workspace access'],
      [{ workspace_access: 'read_write' }, 'workspace_access', 'invalid workspace access'],
      [{ delivery_mode: 'carrier' }, 'delivery_mode', "delivery_mode must be 'push' or 'poll'"],
      [{ budget_limit: -1 }, 'budget_limit', 'invalid workspace payload'],
      [{ secrets: { 'bad-key': 'v' } }, 'secrets', 'invalid workspace payload'],
      [{ secrets: { GOOD_KEY: '' } }, 'secrets.GOOD_KEY', 'invalid workspace payload'],
      [{ url: 'ftp://x' }, 'url', 'invalid workspace payload'],
      [{ canvas: { x: 1 } }, 'canvas.y', 'invalid workspace payload'],
      [{ max_concurrent_tasks: 0 }, 'max_concurrent_tasks', 'invalid workspace payload'],
    ];
    for (const [extra, field, error] of cases) {
      const payload = { name: 'bad-fields', ...extra };
      const res = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.admin(), payload });
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
      assert.equal(res.json().error, error, JSON.stringify(payload));
      const named = [res.json().field, ...(res.json().fields ?? [])].some((f: string | undefined) => f !== undefined && f.startsWith(field.split('.')[0]!));
      assert.ok(named, `${JSON.stringify(payload)} names ${field}: ${res.body}`);
    }
    assert.equal(await count(), before);
  });

  it('PATCH changes settings, refuses bad input naming the field, and changes nothing then', async () => {
    const ws = await t.createWorkspace({ name: 'patch-me' });
    const ok = await t.app.inject({ method: 'PATCH', url: `/workspaces/${ws.id}`, headers: t.as(ws.auth_token), payload: { role: 'reviewer', tier: 2 } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual([ok.json().role, ok.json().tier, ok.json().name], ['reviewer', 2, 'patch-me']);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, ''],
      [{ tier: 7 }, 'tier'],
      [{ name: 'a{b' }, 'name'],
      [{ status: 'online' }, 'status'],
      [{ workspace_dir: '/proc/x' }, 'workspace_dir'],
    ];
    for (const [payload, field] of bad) {
      const res = await t.app.inject({ method: 'PATCH', url: `/workspaces/${ws.id}`, headers: t.admin(), payload });
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
      if (field) assert.ok(JSON.stringify(res.json()).includes(field), `${JSON.stringify(payload)} names ${field}: ${res.body}`);
    }
    const after = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() });
    assert.deepEqual([after.json().role, after.json().tier, after.json().name], ['reviewer', 2, 'patch-me']);
  });

  it('gives a colliding name under the same parent a " (2)" suffix', async () => {
    const parent = await t.createWorkspace();
    const first = await t.createWorkspace({ name: 'twin', parent_id: parent.id });
    const second = await t.createWorkspace({ name: 'twin', parent_id: parent.id });
    assert.equal(first.name, 'twin');
    assert.equal(second.name, 'twin (2)');
    assert.equal(second.parent_id, parent.id);
  });

  it('get: malformed id 400, unknown 404, removed 404 unless include_removed', async () => {
    const bad = await t.app.inject({ method: 'GET', url: '/workspaces/not-a-uuid', headers: t.admin() });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error, 'invalid workspace ID');
    const unknown = await t.app.inject({ method: 'GET', url: `/workspaces/${randomUUID()}`, headers: t.admin() });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error, 'workspace not found');
  });

  it('delete removes the workspace, revokes its tokens, hides it from get and list', async () => {
    const ws = await t.createWorkspace();
    const extra = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/tokens`, headers: t.admin(), payload: {} });
    assert.equal(extra.statusCode, 201);
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() });
    assert.equal(del.statusCode, 200, del.body);
    assert.deepEqual(del.json(), { status: 'removed', id: ws.id, cascade_deleted: 0 });
    for (const token of [ws.auth_token, extra.json().auth_token]) {
      const res = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.as(token) });
      assert.equal(res.statusCode, 401, 'a removed workspace’s tokens are dead');
    }
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 404);
    const tomb = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}?include_removed=true`, headers: t.admin() });
    assert.equal(tomb.statusCode, 200);
    assert.equal(tomb.json().status, 'removed');
    assert.ok(tomb.json().removed_at);
    const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
    assert.equal(list.json().some((w: { id: string }) => w.id === ws.id), false);
    const withRemoved = await t.app.inject({ method: 'GET', url: '/workspaces?include_removed=true', headers: t.admin() });
    assert.equal(withRemoved.json().some((w: { id: string }) => w.id === ws.id), true);
    const again = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() });
    assert.equal(again.statusCode, 404);
    const live = await t.db.selectFrom('workspace_tokens').select('id').where('workspace_id', '=', ws.id).where('revoked_at', 'is', null).execute();
    assert.equal(live.length, 0);
  });

  it('delete with children needs confirm=true and then cascades; X-Confirm-Name must match when sent', async () => {
    const root = await t.createWorkspace({ name: 'root-del' });
    const child = await t.createWorkspace({ name: 'child', parent_id: root.id });
    const grandchild = await t.createWorkspace({ name: 'grandchild', parent_id: child.id });
    const refused = await t.app.inject({ method: 'DELETE', url: `/workspaces/${root.id}`, headers: t.admin() });
    assert.equal(refused.statusCode, 409);
    assert.equal(refused.json().status, 'confirmation_required');
    assert.deepEqual(refused.json().children, [{ id: child.id, name: 'child' }]);
    const wrongName = await t.app.inject({ method: 'DELETE', url: `/workspaces/${root.id}?confirm=true`, headers: { ...t.admin(), 'x-confirm-name': 'nope' } });
    assert.equal(wrongName.statusCode, 400);
    assert.equal(wrongName.json().error, 'destructive_action_requires_confirmation');
    const ok = await t.app.inject({ method: 'DELETE', url: `/workspaces/${root.id}?confirm=true`, headers: { ...t.admin(), 'x-confirm-name': 'root-del' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().cascade_deleted, 2);
    for (const ws of [child, grandchild]) {
      assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 404);
      assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.as(ws.auth_token) })).statusCode, 401);
    }
  });

  it('a workspace token cannot delete its workspace while ADMIN_TOKEN is set', async () => {
    const ws = await t.createWorkspace();
    const res = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.as(ws.auth_token) });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error, 'invalid admin auth token');
  });
});

forEachDatabase('workspace tokens', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  it('mints, lists and revokes; the workspace token can manage its own tokens', async () => {
    const ws = await t.createWorkspace();
    const mint = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/tokens`, headers: t.as(ws.auth_token), payload: {} });
    assert.equal(mint.statusCode, 201);
    const minted = mint.json();
    assert.equal(minted.workspace_id, ws.id);
    assert.equal(minted.message, 'Save this token now — it cannot be retrieved again.');
    assert.equal(isWellFormed('workspaceToken', minted.auth_token), true);
    const list = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}/tokens`, headers: t.as(minted.auth_token) });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().count, 2);
    assert.deepEqual(list.json().tokens.map((k: { id: string }) => k.id).sort(), [ws.token_id, minted.id].sort());
    assert.equal(list.body.includes(minted.auth_token), false);
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/tokens/${minted.id}`, headers: t.as(ws.auth_token) });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), { status: 'revoked', id: minted.id });
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.as(minted.auth_token) })).statusCode, 401);
    const again = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/tokens/${minted.id}`, headers: t.admin() });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'token not found or already revoked');
  });

  it("another workspace's token is 401 there, and its token id is 404 there", async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const cross = await t.app.inject({ method: 'GET', url: `/workspaces/${a.id}/tokens`, headers: t.as(b.auth_token) });
    assert.equal(cross.statusCode, 401);
    assert.equal(cross.json().error, 'invalid workspace auth token');
    const revokeOther = await t.app.inject({ method: 'DELETE', url: `/workspaces/${a.id}/tokens/${b.token_id}`, headers: t.admin() });
    assert.equal(revokeOther.statusCode, 404);
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${b.id}`, headers: t.as(b.auth_token) })).statusCode, 200);
  });

  it('caps live tokens at 50 per workspace', async () => {
    const ws = await t.createWorkspace(); // holds 1 live token already
    const results = await Promise.all(
      Array.from({ length: 52 }, () => t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/tokens`, headers: t.admin(), payload: {} })),
    );
    const created = results.filter((r) => r.statusCode === 201).length;
    const refused = results.filter((r) => r.statusCode === 429);
    assert.equal(created, 49, 'concurrent mints never pass the cap');
    assert.equal(refused.length, 3);
    assert.equal(refused[0]!.json().error, 'maximum 50 active tokens per workspace');
  });

  it('validates ids and paging', async () => {
    const ws = await t.createWorkspace();
    const bad = await t.app.inject({ method: 'GET', url: '/workspaces/xyz/tokens', headers: t.admin() });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error, 'invalid workspace id');
    const badToken = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/tokens/tok_nope`, headers: t.admin() });
    assert.equal(badToken.statusCode, 400);
    const badLimit = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}/tokens?limit=500`, headers: t.admin() });
    assert.equal(badLimit.statusCode, 400);
    const unknown = await t.app.inject({ method: 'POST', url: `/workspaces/${randomUUID()}/tokens`, headers: t.admin(), payload: {} });
    assert.equal(unknown.statusCode, 404);
    const unexpected = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/tokens`, headers: t.admin(), payload: { kind: 'instance' } });
    assert.equal(unexpected.statusCode, 400);
  });
});
