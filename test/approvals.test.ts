/**
 * Approvals (issue 11 items 1, 2, 5, 6): the reference's routes and wire strings (§3.15), the approval gate (§6.6) made
 * strict — the hash covers the value, an approval is used once, the requester never decides — and approval-required keys.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const APR_RE = /^apr_[0-9A-HJKMNP-TV-Z]{26}$/;

async function eventsOf(t: TestTenant, workspaceId: string | null, type: string) {
  const q = t.db.selectFrom('workspace_events').select(['event_type', 'workspace_id', 'payload']).where('event_type', '=', type);
  const rows = await (workspaceId === null ? q.where('workspace_id', 'is', null) : q.where('workspace_id', '=', workspaceId)).orderBy('id').execute();
  return rows;
}

forEachDatabase('approvals API', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(async () => {
    await t?.close();
  });

  const post = (url: string, headers: Record<string, string>, payload?: unknown) =>
    t.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const get = (url: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url, headers });

  it('create → 201 {approval_id, status}; REQUESTED on the workspace and ESCALATED on its parent; listed, pending, gettable', async () => {
    const parent = await t.createWorkspace();
    const child = await t.createWorkspace({ parent_id: parent.id });
    const res = await post(`/workspaces/${child.id}/approvals`, t.as(child.auth_token), { action: 'deploy', reason: 'ship v2', task_id: 'task-1', context: { env: 'prod' } });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['approval_id', 'status']);
    assert.equal(body.status, 'pending');
    assert.match(body.approval_id, APR_RE);

    const requested = await eventsOf(t, child.id, 'APPROVAL_REQUESTED');
    assert.equal(requested.length, 1);
    assert.equal(requested[0]!.payload['approval_id'], body.approval_id);
    assert.equal(requested[0]!.payload['action'], 'deploy');
    assert.equal(requested[0]!.payload['task_id'], 'task-1');
    assert.match(String(requested[0]!.payload['requested_by']), /^workspace-token:/);
    const escalated = await eventsOf(t, parent.id, 'APPROVAL_ESCALATED');
    assert.deepEqual(escalated.map((e) => e.payload), [{ approval_id: body.approval_id, from_workspace_id: child.id, action: 'deploy', reason: 'ship v2' }]);

    const list = await get(`/workspaces/${child.id}/approvals`, t.as(child.auth_token));
    assert.equal(list.statusCode, 200);
    const [entry] = list.json();
    assert.equal(entry.id, body.approval_id);
    assert.equal(entry.task_id, 'task-1');
    assert.equal(entry.status, 'pending');
    assert.equal(entry.decided_by, null);
    assert.deepEqual(entry.context, { env: 'prod' });

    const pending = await get('/approvals/pending', t.admin());
    assert.equal(pending.statusCode, 200);
    const p = pending.json().find((a: { id: string }) => a.id === body.approval_id);
    assert.equal(p.workspace_id, child.id);
    assert.equal(p.workspace_name, child.name);
    assert.equal(p.status, 'pending');
    const requests = await get('/requests/pending?kind=approval', t.admin());
    assert.equal(requests.statusCode, 200);
    assert.deepEqual(requests.json(), pending.json());
    assert.equal((await get('/requests/pending?kind=task', t.admin())).statusCode, 400);

    const one = await get(`/approvals/${body.approval_id}`, t.admin());
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().workspace_name, child.name);
  });

  it('decide: 400 on another decision, 200 attributed to the deciding credential, then 404 already decided', async () => {
    const ws = await t.createWorkspace();
    const { approval_id } = (await post(`/workspaces/${ws.id}/approvals`, t.as(ws.auth_token), { action: 'deploy' })).json();
    const bad = await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.admin(), { decision: 'maybe' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error, "decision must be 'approved' or 'denied'");
    const editor = await t.mintKey({ role: 'editor' });
    const ok = await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.as(editor.auth_token), { decision: 'approved', decided_by: 'human' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { status: 'approved', approval_id });
    const [entry] = (await get(`/workspaces/${ws.id}/approvals`, t.admin())).json();
    assert.equal(entry.status, 'approved');
    assert.equal(entry.decided_by, `org-token:${editor.prefix}`);
    assert.ok(entry.decided_at);
    const approved = await eventsOf(t, ws.id, 'APPROVAL_APPROVED');
    assert.deepEqual(approved.map((e) => e.payload), [{ approval_id, decision: 'approved', decided_by: `org-token:${editor.prefix}` }]);
    const again = await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.admin(), { decision: 'denied' });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'approval not found or already decided');
    // Not this workspace's approval: the same 404. A malformed id: 400 before any query.
    const other = await t.createWorkspace();
    const { approval_id: otherId } = (await post(`/workspaces/${other.id}/approvals`, t.as(other.auth_token), { action: 'x' })).json();
    assert.equal((await post(`/workspaces/${ws.id}/approvals/${otherId}/decide`, t.admin(), { decision: 'denied' })).statusCode, 404);
    assert.equal((await post(`/workspaces/${ws.id}/approvals/not-an-id/decide`, t.admin(), { decision: 'denied' })).statusCode, 400);
    const denied = await post(`/approvals/${otherId}/decide`, t.admin(), { decision: 'denied' });
    assert.deepEqual(denied.json(), { status: 'denied', approval_id: otherId });
    assert.equal((await eventsOf(t, other.id, 'APPROVAL_DENIED')).length, 1);
  });

  it('roles: a reader cannot ask or decide; a workspace token can ask and withdraw for its own workspace only, never decide', async () => {
    const ws = await t.createWorkspace();
    const other = await t.createWorkspace();
    const reader = await t.mintKey({ role: 'reader' });
    assert.equal((await post(`/workspaces/${ws.id}/approvals`, t.as(reader.auth_token), { action: 'x' })).statusCode, 403);
    assert.equal((await get(`/workspaces/${ws.id}/approvals`, t.as(reader.auth_token))).statusCode, 200);
    assert.equal((await get('/approvals/pending', t.as(reader.auth_token))).statusCode, 200);
    const { approval_id } = (await post(`/workspaces/${ws.id}/approvals`, t.admin(), { action: 'x' })).json();
    assert.equal((await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.as(reader.auth_token), { decision: 'approved' })).statusCode, 403);

    const decideByToken = await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.as(ws.auth_token), { decision: 'approved' });
    assert.equal(decideByToken.statusCode, 403);
    assert.equal(decideByToken.json().code, 'APPROVAL_DECIDER_FORBIDDEN');
    // Another workspace's token does not reach this workspace at all.
    assert.equal((await post(`/workspaces/${ws.id}/approvals`, t.as(other.auth_token), { action: 'x' })).statusCode, 401);
    assert.equal((await post(`/workspaces/${ws.id}/approvals/${approval_id}/withdraw`, t.as(other.auth_token))).statusCode, 401);
    // Its own workspace's path with another workspace's approval: out of its scope, so not found (it learns nothing).
    assert.equal((await post(`/workspaces/${other.id}/approvals/${approval_id}/withdraw`, t.as(other.auth_token))).statusCode, 404);
    // An org-wide credential on the wrong workspace's path: the reference's 403.
    const notMine = await post(`/workspaces/${other.id}/approvals/${approval_id}/withdraw`, t.admin());
    assert.equal(notMine.statusCode, 403);
    assert.equal(notMine.json().error, 'not the requester');
    const withdrawn = await post(`/workspaces/${ws.id}/approvals/${approval_id}/withdraw`, t.as(ws.auth_token));
    assert.equal(withdrawn.statusCode, 200);
    assert.deepEqual(withdrawn.json(), { status: 'withdrawn', approval_id });
    assert.equal((await eventsOf(t, ws.id, 'APPROVAL_WITHDRAWN')).length, 1);
    const twice = await post(`/workspaces/${ws.id}/approvals/${approval_id}/withdraw`, t.as(ws.auth_token));
    assert.equal(twice.statusCode, 409);
    assert.equal(twice.json().error, 'approval not pending (already decided or withdrawn)');
    const unknown = await post(`/workspaces/${ws.id}/approvals/apr_01ARZ3NDEKTSV4RRFFQ69G5FAV/withdraw`, t.admin());
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error, 'approval not found');
  });

  it('separation of duties: the principal that asked can never decide (403), another can', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey({ role: 'admin' });
    const { approval_id } = (await post(`/workspaces/${ws.id}/approvals`, t.as(key.auth_token), { action: 'x' })).json();
    const self = await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.as(key.auth_token), { decision: 'approved' });
    assert.equal(self.statusCode, 403);
    assert.equal(self.json().code, 'APPROVAL_SELF_DECISION');
    assert.equal((await post(`/approvals/${approval_id}/decide`, t.as(key.auth_token), { decision: 'approved' })).statusCode, 403);
    assert.equal((await post(`/workspaces/${ws.id}/approvals/${approval_id}/decide`, t.admin(), { decision: 'approved' })).statusCode, 200);
  });

  it('a workspace-bound key sees and decides only its workspaces’ approvals', async () => {
    const mine = await t.createWorkspace();
    const theirs = await t.createWorkspace();
    const bound = await t.mintKey({ role: 'editor', workspace_ids: [mine.id] });
    const { approval_id: a } = (await post(`/workspaces/${mine.id}/approvals`, t.admin(), { action: 'x' })).json();
    const { approval_id: b } = (await post(`/workspaces/${theirs.id}/approvals`, t.admin(), { action: 'x' })).json();
    const ids = (await get('/approvals/pending?limit=500', t.as(bound.auth_token))).json().map((x: { id: string }) => x.id);
    assert.ok(ids.includes(a));
    assert.ok(!ids.includes(b));
    assert.equal((await get(`/approvals/${b}`, t.as(bound.auth_token))).statusCode, 404);
    assert.equal((await post(`/approvals/${b}/decide`, t.as(bound.auth_token), { decision: 'approved' })).statusCode, 404);
    assert.equal((await post(`/approvals/${a}/decide`, t.as(bound.auth_token), { decision: 'approved' })).statusCode, 200);
  });

  it('expiry: past expires_at a pending approval reads expired, leaves /approvals/pending and cannot be decided', async () => {
    const ws = await t.createWorkspace();
    const { approval_id } = (await post(`/workspaces/${ws.id}/approvals`, t.admin(), { action: 'x' })).json();
    const [fresh] = (await get(`/workspaces/${ws.id}/approvals`, t.admin())).json();
    const ttl = Date.parse(fresh.expires_at) - Date.parse(fresh.created_at);
    assert.ok(Math.abs(ttl - 86_400_000) < 5000, `default expiry is 24 h, got ${ttl} ms`);
    await t.db.updateTable('approvals').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', approval_id).execute();
    const [entry] = (await get(`/workspaces/${ws.id}/approvals`, t.admin())).json();
    assert.equal(entry.status, 'expired');
    assert.ok(!(await get('/approvals/pending?limit=500', t.admin())).json().some((x: { id: string }) => x.id === approval_id));
    const editor = await t.mintKey({ role: 'editor' });
    assert.equal((await post(`/approvals/${approval_id}/decide`, t.as(editor.auth_token), { decision: 'approved' })).statusCode, 404);
    assert.equal((await post(`/workspaces/${ws.id}/approvals/${approval_id}/withdraw`, t.admin())).statusCode, 409);
  });

  it('pagination: limit and before page through a workspace’s approvals and the pending list, newest first', async () => {
    const ws = await t.createWorkspace();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await post(`/workspaces/${ws.id}/approvals`, t.admin(), { action: `a${i}` })).json().approval_id);
    const first = (await get(`/workspaces/${ws.id}/approvals?limit=2`, t.admin())).json();
    assert.deepEqual(first.map((a: { id: string }) => a.id), [created[4], created[3]]);
    const second = (await get(`/workspaces/${ws.id}/approvals?limit=2&before=${first[1].id}`, t.admin())).json();
    assert.deepEqual(second.map((a: { id: string }) => a.id), [created[2], created[1]]);
    const pendingPage = (await get(`/approvals/pending?limit=1&before=${created[4]}`, t.admin())).json();
    assert.deepEqual(pendingPage.map((a: { id: string }) => a.id), [created[3]]);
    assert.equal((await get('/approvals/pending?limit=0', t.admin())).statusCode, 400);
    assert.equal((await get('/approvals/pending?before=nope', t.admin())).statusCode, 400);
  });

  it('bad input: unknown fields, empty action and an oversize context are 400 and write nothing', async () => {
    const ws = await t.createWorkspace();
    for (const payload of [{ action: '' }, { action: 'x', extra: 1 }, {}, { action: 'x', context: { big: 'y'.repeat(17 * 1024) } }]) {
      const res = await post(`/workspaces/${ws.id}/approvals`, t.admin(), payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
    assert.deepEqual((await get(`/workspaces/${ws.id}/approvals`, t.admin())).json(), []);
    assert.equal((await post(`/workspaces/${randomBytes(4).toString('hex')}/approvals`, t.admin(), { action: 'x' })).statusCode, 400);
    assert.equal((await post('/workspaces/00000000-0000-4000-8000-000000000000/approvals', t.admin(), { action: 'x' })).statusCode, 404);
  });

  describe('approval-required keys', () => {
    it('are shown in the list; every DELETE they attempt waits for another principal’s approval, then runs once', async () => {
      const agent = await t.mintKey({ approval_required: true });
      assert.equal((agent as unknown as { approval_required: boolean }).approval_required, true);
      const listed = (await get('/org/tokens', t.admin())).json().tokens.find((k: { id: string }) => k.id === agent.id);
      assert.equal(listed.approval_required, true);
      const plain = (await get('/org/tokens', t.admin())).json().tokens.find((k: { id: string }) => k.id !== agent.id);
      assert.equal(plain.approval_required, false);

      const ws = await t.createWorkspace();
      assert.equal((await t.app.inject({ method: 'PUT', url: `/workspaces/${ws.id}/secrets`, headers: t.admin(), payload: { key: 'TO_DELETE', value: 'v' } })).statusCode, 200);
      const del = () => t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/secrets/TO_DELETE`, headers: t.as(agent.auth_token) });
      const held = await del();
      assert.equal(held.statusCode, 202, held.body);
      const pending = held.json();
      assert.equal(pending.status, 'pending_approval');
      assert.equal(pending.action, 'delete');
      // Still there: a held request changes nothing.
      const secrets = (await get(`/workspaces/${ws.id}/secrets`, t.admin())).json();
      assert.ok(secrets.some((s: { key: string }) => s.key === 'TO_DELETE'));
      // The same request again is the same approval, not a second one.
      assert.equal((await del()).json().approval_id, pending.approval_id);
      // It can never decide, not even someone else's approval.
      const theirs = (await post(`/workspaces/${ws.id}/approvals`, t.admin(), { action: 'x' })).json().approval_id;
      assert.equal((await post(`/approvals/${theirs}/decide`, t.as(agent.auth_token), { decision: 'approved' })).json().code, 'APPROVAL_DECIDER_FORBIDDEN');
      assert.equal((await post(`/approvals/${pending.approval_id}/decide`, t.admin(), { decision: 'approved' })).statusCode, 200);
      const done = await del();
      assert.equal(done.statusCode, 200, done.body);
      assert.equal((await get(`/approvals/${pending.approval_id}`, t.admin())).json().status, 'consumed');
      // Workspace delete: its own action, gated the same way.
      const gone = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.as(agent.auth_token) });
      assert.equal(gone.statusCode, 202);
      assert.equal(gone.json().action, 'workspace_delete');
    });

    it('a rotation keeps the flag; revoking such a key (a DELETE it attempts) waits for approval too', async () => {
      const agent = await t.mintKey({ approval_required: true });
      const rotated = await post(`/org/tokens/${agent.id}/rotate`, t.admin(), { grace_seconds: 0 });
      assert.equal(rotated.statusCode, 200, rotated.body);
      assert.equal(rotated.json().approval_required, true);
      const selfRevoke = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${rotated.json().id}`, headers: t.as(rotated.json().auth_token) });
      assert.equal(selfRevoke.statusCode, 202);
      assert.equal(selfRevoke.json().action, 'delete');
      // Org-wide (no workspace): it appears with workspace_id null.
      assert.equal((await get(`/approvals/${selfRevoke.json().approval_id}`, t.admin())).json().workspace_id, null);
    });

    it('a key that needs approvals cannot mint one that does not (after approval, still refused: no widening)', async () => {
      const agent = await t.mintKey({ approval_required: true });
      const mint = () => post('/org/tokens', t.as(agent.auth_token), { name: 'wider', approval_required: false });
      const held = await mint();
      assert.equal(held.statusCode, 202);
      assert.equal(held.json().reason, 'mint org token wider');
      await post(`/approvals/${held.json().approval_id}/decide`, t.admin(), { decision: 'approved' });
      const refused = await mint();
      assert.equal(refused.statusCode, 403, refused.body);
    });
  });
});

forEachDatabase('approval gate', (kind) => {
  let t: TestTenant;
  before(async () => {
    // The default classes: org keys and workspace tokens (the agents) are gated; ADMIN_TOKEN (the human here) is not.
    t = await startTestTenant(kind, { env: { APPROVAL_GATED_ACTIONS: 'secret_write,org_token_mint,workspace_delete' } });
  });
  after(async () => {
    await t?.close();
  });
  const put = (wsId: string, bearer: string, key: string, value: string) =>
    t.app.inject({ method: 'PUT', url: `/workspaces/${wsId}/secrets`, headers: t.as(bearer), payload: { key, value } });
  const decide = (id: string, headers: Record<string, string>, decision = 'approved') =>
    t.app.inject({ method: 'POST', url: `/approvals/${id}/decide`, headers, payload: { decision } });

  it('Done-when: a secret write by an org key → 202, pending, approved by another principal, the retry succeeds once', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey({ name: 'agent' });
    const value = `v-${randomBytes(8).toString('hex')}`;
    const held = await put(ws.id, key.auth_token, 'API_KEY', value);
    assert.equal(held.statusCode, 202, held.body);
    const body = held.json();
    assert.deepEqual(Object.keys(body).sort(), ['action', 'approval_id', 'reason', 'status']);
    assert.equal(body.status, 'pending_approval');
    assert.equal(body.action, 'secret_write');
    assert.equal(body.reason, 'set secret API_KEY');
    // Nothing written.
    assert.equal((await t.db.selectFrom('workspace_secrets').select('key').where('workspace_id', '=', ws.id).execute()).length, 0);
    const pending = (await t.app.inject({ method: 'GET', url: '/approvals/pending', headers: t.admin() })).json();
    const entry = pending.find((a: { id: string }) => a.id === body.approval_id);
    assert.equal(entry.workspace_id, ws.id);
    assert.equal(entry.requested_by, `org-token:${key.prefix}`);
    // The approver sees the key and a hash of the value, never the value.
    assert.equal(entry.context.key, 'API_KEY');
    assert.match(entry.context.value_hash, /^[0-9a-f]{8}$/);
    assert.ok(!JSON.stringify(pending).includes(value));
    const row = await t.db.selectFrom('approvals').selectAll().where('id', '=', body.approval_id).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(value));

    // The requester cannot approve it; ADMIN_TOKEN (another principal) can.
    assert.equal((await decide(body.approval_id, t.as(key.auth_token))).statusCode, 403);
    assert.equal((await decide(body.approval_id, t.admin())).statusCode, 200);
    // A different value does not use the approval.
    const other = await put(ws.id, key.auth_token, 'API_KEY', `${value}-other`);
    assert.equal(other.statusCode, 202);
    assert.notEqual(other.json().approval_id, body.approval_id);
    // The identical request runs, once.
    const ok = await put(ws.id, key.auth_token, 'API_KEY', value);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { status: 'saved', key: 'API_KEY' });
    const again = await put(ws.id, key.auth_token, 'API_KEY', value);
    assert.equal(again.statusCode, 202);
    assert.notEqual(again.json().approval_id, body.approval_id);
    const used = (await t.app.inject({ method: 'GET', url: `/approvals/${body.approval_id}`, headers: t.admin() })).json();
    assert.equal(used.status, 'consumed');
    assert.ok(used.consumed_at);
  });

  it('concurrent retries of an approved request: exactly one succeeds', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey();
    const held = await put(ws.id, key.auth_token, 'RACE', 'same-value');
    assert.equal((await decide(held.json().approval_id, t.admin())).statusCode, 200);
    const results = await Promise.all(Array.from({ length: 8 }, () => put(ws.id, key.auth_token, 'RACE', 'same-value')));
    const statuses = results.map((r) => r.statusCode).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 202).length, 7, JSON.stringify(statuses));
    // The losers asked again — all for one new approval, not seven.
    const asked = new Set(results.filter((r) => r.statusCode === 202).map((r) => r.json().approval_id));
    assert.equal(asked.size, 1, [...asked].join(', '));
    assert.ok(!asked.has(held.json().approval_id));
  });

  it('org-wide actions (global secrets, key mints) are approved through /approvals/:id/decide; the classes are configurable', async () => {
    const key = await t.mintKey();
    const global = await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.as(key.auth_token), payload: { key: 'ORG_WIDE', value: 'v1' } });
    assert.equal(global.statusCode, 202);
    const entry = (await t.app.inject({ method: 'GET', url: '/approvals/pending', headers: t.admin() })).json().find((a: { id: string }) => a.id === global.json().approval_id);
    assert.equal(entry.workspace_id, null);
    assert.equal(entry.workspace_name, null);
    assert.equal((await eventsOf(t, null, 'APPROVAL_REQUESTED')).some((e) => e.payload['approval_id'] === global.json().approval_id), true);
    await decide(global.json().approval_id, t.admin());
    assert.equal((await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.as(key.auth_token), payload: { key: 'ORG_WIDE', value: 'v1' } })).statusCode, 200);

    // A key mint by an org key waits for someone else.
    const mint = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(key.auth_token), payload: { name: 'next' } });
    assert.equal(mint.statusCode, 202);
    assert.equal(mint.json().action, 'org_token_mint');
    assert.equal(mint.json().reason, 'mint org token next');
    assert.equal((await decide(mint.json().approval_id, t.as(key.auth_token))).json().code, 'APPROVAL_SELF_DECISION');
    assert.equal((await decide(mint.json().approval_id, t.admin())).statusCode, 200);
    const minted = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(key.auth_token), payload: { name: 'next' } });
    assert.equal(minted.statusCode, 200, minted.body);
    assert.equal(minted.json().name, 'next');
    // ADMIN_TOKEN is not in the default APPROVAL_GATED_CLASSES: never held back.
    assert.equal((await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.admin(), payload: { key: 'ADMIN_SET', value: 'v' } })).statusCode, 200);
  });

  it('workspace delete is gated as workspace_delete and runs after approval', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey();
    const del = () => t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.as(key.auth_token) });
    const held = await del();
    assert.equal(held.statusCode, 202);
    assert.deepEqual(held.json(), { status: 'pending_approval', approval_id: held.json().approval_id, action: 'workspace_delete', reason: `delete workspace ${ws.id}` });
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).json().status !== 'removed', true);
    await decide(held.json().approval_id, t.admin());
    const done = await del();
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().status, 'removed');
  });

  it('a workspace token (a default gated class) is held back on its own workspace’s secrets', async () => {
    const ws = await t.createWorkspace();
    const res = await put(ws.id, ws.auth_token, 'FROM_AGENT', 'x');
    assert.equal(res.statusCode, 202);
    assert.equal((await t.app.inject({ method: 'GET', url: `/approvals/${res.json().approval_id}`, headers: t.admin() })).json().requested_by.startsWith('workspace-token:'), true);
  });

  it('a reserved secret key is refused before an approval is asked for', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey();
    const res = await put(ws.id, key.auth_token, 'PATH', 'x');
    assert.equal(res.statusCode, 400);
    assert.equal((await t.db.selectFrom('approvals').select('id').where('workspace_id', '=', ws.id).execute()).length, 0);
  });

  it('fails closed: a datastore error in the gate answers 503 and writes nothing', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey();
    await sql`alter table approvals rename to approvals_offline`.execute(t.db);
    try {
      const res = await put(ws.id, key.auth_token, 'OUTAGE', 'x');
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'platform_unavailable');
    } finally {
      await sql`alter table approvals_offline rename to approvals`.execute(t.db);
    }
    assert.equal((await t.db.selectFrom('workspace_secrets').select('key').where('workspace_id', '=', ws.id).execute()).length, 0);
  });
});

describe('approval config', () => {
  it('names unknown actions and classes at boot', async () => {
    const { loadTenantConfig } = await import('../src/tenant/config.js');
    assert.throws(() => loadTenantConfig({ APPROVAL_GATED_ACTIONS: 'secret_write,launch_missiles', MOLECULE_DATA_DIR: 'memory://' }), /APPROVAL_GATED_ACTIONS: unknown action\(s\) launch_missiles/);
    assert.throws(() => loadTenantConfig({ APPROVAL_GATED_CLASSES: 'robot', MOLECULE_DATA_DIR: 'memory://' }), /APPROVAL_GATED_CLASSES: unknown credential class\(es\) robot/);
  });
});
