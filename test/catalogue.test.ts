/**
 * Issue 11, items 6–7: the rest of the reference's tenant route catalogue — /buildinfo, /org/identity,
 * /admin/liveness, workspace state, hibernate (and its wake on restart and resume, on real processes), model,
 * provider (410), the workspace's own secret values, the admin token mint / revoke / restart, the workspace audit,
 * the canvas viewport — and the /ws WebSocket of live events over real HTTP. Shapes, errors, roles and "bad input
 * writes nothing" per route; auth tiers are also pinned for every route in test/security.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

type Json = Record<string, unknown>;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

forEachDatabase('route catalogue: API', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { env: { MOLECULE_ORG_NAME: 'Acme Research', MOLECULE_GIT_SHA: 'abc1234' } });
  });
  after(() => t?.close());

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string> = t.admin(), payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  const auditCount = async () => Number((await t.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

  describe('GET /buildinfo and GET /org/identity', () => {
    it('/buildinfo is open and passes TenantGuard with no routing header', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/buildinfo' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { git_sha: 'abc1234', version: '0.1.0' });
    });

    it('/org/identity is open but TenantGuard still applies', async () => {
      assert.equal((await t.app.inject({ method: 'GET', url: '/org/identity' })).statusCode, 400);
      const res = await t.app.inject({ method: 'GET', url: '/org/identity', headers: { 'x-molecule-org-id': t.orgId } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { name: 'Acme Research' });
      const other = await t.app.inject({ method: 'GET', url: '/org/identity', headers: { 'x-molecule-org-id': '00000000-0000-4000-8000-000000000000' } });
      assert.equal(other.statusCode, 404);
    });
  });

  describe('GET /admin/liveness', () => {
    it('lists every background loop, with its last tick once it has one', async () => {
      // A request's audit event is written behind: the writer ticks once it has flushed.
      await inject('GET', '/workspaces');
      const body = await waitFor('the audit writer and a usage tracker to tick', async () => {
        const res = await inject('GET', '/admin/liveness');
        assert.equal(res.statusCode, 200, res.body);
        const b = res.json() as { subsystems: Record<string, { last_tick_at: string | null; seconds_ago: number | null }> };
        return b.subsystems['audit_writer']?.last_tick_at && b.subsystems['org_token_last_used']?.last_tick_at ? b : undefined;
      });
      for (const loop of ['lifecycle_sweeper', 'audit_writer', 'org_token_last_used', 'workspace_token_last_used', 'event_stream_recheck']) {
        assert.ok(loop in body.subsystems, `${loop} is listed`);
      }
      const writer = body.subsystems['audit_writer']!;
      assert.ok(Date.parse(writer.last_tick_at!) <= Date.now());
      assert.ok(typeof writer.seconds_ago === 'number' && writer.seconds_ago >= 0);
      // Not listening: the sweeper has not started, and says so rather than being absent.
      assert.deepEqual(body.subsystems['lifecycle_sweeper'], { last_tick_at: null, seconds_ago: null });
    });

    it('a reader key reads it; a workspace-bound key is refused (org-wide); a workspace token is not the admin chain', async () => {
      const reader = await t.mintKey({ role: 'reader' });
      assert.equal((await inject('GET', '/admin/liveness', t.as(reader.auth_token))).statusCode, 200);
      const ws = await t.createWorkspace();
      const bound = await t.mintKey({ workspace_ids: [ws.id] });
      assert.equal((await inject('GET', '/admin/liveness', t.as(bound.auth_token))).json().code, 'SCOPE_EXCEEDED');
      assert.equal((await inject('GET', '/admin/liveness', t.as(ws.auth_token))).statusCode, 401);
    });
  });

  describe('GET /workspaces/:id/state', () => {
    it('answers the status; unknown and removed workspaces → 404 saying deleted', async () => {
      const ws = await t.createWorkspace({ external: true });
      const ok = await inject('GET', `/workspaces/${ws.id}/state`);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json(), { workspace_id: ws.id, status: 'awaiting_agent', paused: false, deleted: false });
      assert.equal((await inject('POST', `/workspaces/${ws.id}/pause`)).statusCode, 200);
      assert.deepEqual((await inject('GET', `/workspaces/${ws.id}/state`, t.as(ws.auth_token))).json(), { workspace_id: ws.id, status: 'paused', paused: true, deleted: false });

      const unknown = '5f0c6d1e-0000-4000-8000-000000000001';
      const missing = await inject('GET', `/workspaces/${unknown}/state`);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().workspace_id, unknown);
      assert.equal(missing.json().deleted, true);

      assert.equal((await inject('DELETE', `/workspaces/${ws.id}`)).statusCode, 200);
      const removed = await inject('GET', `/workspaces/${ws.id}/state`);
      assert.equal(removed.statusCode, 404);
      assert.equal(removed.json().status, 'removed');
      assert.equal(removed.json().deleted, true);
    });

    it('a malformed id → 400 "invalid workspace ID"', async () => {
      const res = await inject('GET', '/workspaces/not-a-uuid/state');
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error, 'invalid workspace ID');
    });
  });

  describe('POST /workspaces/:id/hibernate (records; the real processes are below)', () => {
    it('only online or degraded; active tasks need ?force=true; WORKSPACE_HIBERNATED is recorded', async () => {
      const ws = await t.createWorkspace({ external: true });
      const notYet = await inject('POST', `/workspaces/${ws.id}/hibernate`);
      assert.equal(notYet.statusCode, 404);
      assert.equal(notYet.json().error, 'workspace not found or not in a hibernatable state (must be online or degraded)');
      await t.db.updateTable('workspaces').set({ status: 'online', active_tasks: 2 }).where('id', '=', ws.id).execute();
      const busy = await inject('POST', `/workspaces/${ws.id}/hibernate`);
      assert.equal(busy.statusCode, 409);
      assert.equal(busy.json().error, 'workspace has active tasks; use ?force=true to terminate them');
      assert.equal(busy.json().active_tasks, 2);
      assert.equal((await inject('GET', `/workspaces/${ws.id}/state`)).json().status, 'online', 'a refusal changes nothing');
      const reader = await t.mintKey({ role: 'reader' });
      assert.equal((await inject('POST', `/workspaces/${ws.id}/hibernate?force=true`, t.as(reader.auth_token))).statusCode, 403);
      const forced = await inject('POST', `/workspaces/${ws.id}/hibernate?force=true`, t.as(ws.auth_token));
      assert.equal(forced.statusCode, 200, forced.body);
      assert.deepEqual(forced.json(), { status: 'hibernated' });
      const row = await t.db.selectFrom('workspaces').select(['status', 'url', 'active_tasks']).where('id', '=', ws.id).executeTakeFirstOrThrow();
      assert.deepEqual(row, { status: 'hibernated', url: '', active_tasks: 0 });
      const events = (await inject('GET', `/events/${ws.id}`)).json() as Array<{ event_type: string }>;
      assert.ok(events.some((e) => e.event_type === 'WORKSPACE_HIBERNATED'));
      const again = await inject('POST', `/workspaces/${ws.id}/hibernate`);
      assert.equal(again.statusCode, 404, 'already hibernated');
    });

    it('a bad ?force → 400 naming it', async () => {
      const ws = await t.createWorkspace({ external: true });
      const res = await inject('POST', `/workspaces/${ws.id}/hibernate?force=maybe`);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json().fields, ['force']);
    });
  });

  describe('GET/PUT /workspaces/:id/model', () => {
    it('round-trips through the MODEL secret (encrypted), clears with "", audits each write in its transaction', async () => {
      const ws = await t.createWorkspace();
      assert.deepEqual((await inject('GET', `/workspaces/${ws.id}/model`)).json(), { model: '', source: 'unresolved' });
      const before = await auditCount();
      const put = await inject('PUT', `/workspaces/${ws.id}/model`, t.as(ws.auth_token), { model: 'anthropic:claude-sonnet' });
      assert.equal(put.statusCode, 200, put.body);
      assert.deepEqual(put.json(), { status: 'saved', model: 'anthropic:claude-sonnet' });
      assert.ok((await auditCount()) > before, 'audited');
      assert.deepEqual((await inject('GET', `/workspaces/${ws.id}/model`)).json(), { model: 'anthropic:claude-sonnet', source: 'workspace_secrets' });
      const stored = await t.db.selectFrom('workspace_secrets').select('ciphertext').where('workspace_id', '=', ws.id).where('key', '=', 'MODEL').executeTakeFirstOrThrow();
      assert.ok(!stored.ciphertext.includes('claude'), 'stored encrypted');
      const secrets = (await inject('GET', `/workspaces/${ws.id}/secrets`)).json() as Array<{ key: string }>;
      assert.ok(secrets.some((s) => s.key === 'MODEL'));
      assert.deepEqual((await inject('PUT', `/workspaces/${ws.id}/model`, t.admin(), { model: '' })).json(), { status: 'cleared' });
      assert.deepEqual((await inject('GET', `/workspaces/${ws.id}/model`)).json(), { model: '', source: 'unresolved' });
    });

    it('the model a workspace was created with is its model until one is set', async () => {
      const ws = await t.createWorkspace({ model: 'openai:gpt-5' });
      assert.deepEqual((await inject('GET', `/workspaces/${ws.id}/model`)).json(), { model: 'openai:gpt-5', source: 'workspace' });
    });

    it('bad input → 400 naming the field, nothing written; a reader key → 403; unknown workspace → 404', async () => {
      const ws = await t.createWorkspace();
      for (const body of [{ model: 5 }, {}, { model: 'a b' }, { model: 'x'.repeat(201) }, { model: 'ok', extra: 1 }]) {
        const res = await inject('PUT', `/workspaces/${ws.id}/model`, t.admin(), body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.ok(['model', 'extra'].includes(res.json().field), res.body);
      }
      const reader = await t.mintKey({ role: 'reader' });
      assert.equal((await inject('PUT', `/workspaces/${ws.id}/model`, t.as(reader.auth_token), { model: 'm' })).statusCode, 403);
      assert.equal((await t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', ws.id).execute()).length, 0, 'nothing written');
      assert.equal((await inject('GET', `/workspaces/${ws.id}/model`, t.as(reader.auth_token))).statusCode, 200);
      const unknown = '5f0c6d1e-0000-4000-8000-000000000002';
      assert.equal((await inject('PUT', `/workspaces/${unknown}/model`, t.admin(), { model: 'm' })).statusCode, 404);
    });
  });

  describe('GET/PUT /workspaces/:id/provider', () => {
    it('is gone: 410 naming its replacement, whatever the body', async () => {
      const ws = await t.createWorkspace();
      for (const method of ['GET', 'PUT'] as const) {
        const res = await inject(method, `/workspaces/${ws.id}/provider`, t.admin(), method === 'PUT' ? { provider: 'anthropic' } : undefined);
        assert.equal(res.statusCode, 410, res.body);
        assert.equal(res.json().code, 'ENDPOINT_GONE');
        assert.equal(res.json().replacement, 'PUT /workspaces/{id}/model');
      }
    });
  });

  describe('GET /workspaces/:id/secrets/values', () => {
    it('the workspace’s own token gets its decrypted environment, globals overridden by its own', async () => {
      const ws = await t.createWorkspace();
      const key = `G_${randomBytes(3).toString('hex').toUpperCase()}`;
      assert.equal((await inject('POST', '/settings/secrets', t.admin(), { key, value: 'global' })).statusCode, 200);
      assert.equal((await inject('POST', '/settings/secrets', t.admin(), { key: `${key}_ONLY`, value: 'org-wide' })).statusCode, 200);
      assert.equal((await inject('POST', `/workspaces/${ws.id}/secrets`, t.admin(), { key, value: 'own' })).statusCode, 200);
      const res = await inject('GET', `/workspaces/${ws.id}/secrets/values`, t.as(ws.auth_token));
      assert.equal(res.statusCode, 200, res.body);
      const values = res.json() as Record<string, string>;
      assert.equal(values[key], 'own');
      assert.equal(values[`${key}_ONLY`], 'org-wide');
    });

    it('the admin chain passes the tier and is refused: ADMIN_TOKEN, an admin key, a session-less org key → 403; another workspace’s token → 401', async () => {
      const ws = await t.createWorkspace();
      const other = await t.createWorkspace();
      const admin = await t.mintKey({ role: 'admin' });
      for (const headers of [t.admin(), t.as(admin.auth_token)]) {
        const res = await inject('GET', `/workspaces/${ws.id}/secrets/values`, headers);
        assert.equal(res.statusCode, 403, res.body);
        assert.equal(res.json().code, 'WORKSPACE_TOKEN_REQUIRED');
        assert.equal(res.json().error, "only the workspace's own token can read its secret values");
      }
      assert.equal((await inject('GET', `/workspaces/${ws.id}/secrets/values`, t.as(other.auth_token))).statusCode, 401);
    });

    it('a value that cannot be decrypted → 500 naming it, and nothing returned', async () => {
      const ws = await t.createWorkspace();
      assert.equal((await inject('POST', `/workspaces/${ws.id}/secrets`, t.admin(), { key: 'BROKEN', value: 'v' })).statusCode, 200);
      // Moved to another workspace's row: bound to its workspace and key, it no longer opens here.
      const donor = await t.createWorkspace();
      assert.equal((await inject('POST', `/workspaces/${donor.id}/secrets`, t.admin(), { key: 'BROKEN', value: 'x' })).statusCode, 200);
      const moved = await t.db.selectFrom('workspace_secrets').select(['ciphertext', 'key_id']).where('workspace_id', '=', donor.id).where('key', '=', 'BROKEN').executeTakeFirstOrThrow();
      await t.db.updateTable('workspace_secrets').set(moved).where('workspace_id', '=', ws.id).where('key', '=', 'BROKEN').execute();
      const res = await inject('GET', `/workspaces/${ws.id}/secrets/values`, t.as(ws.auth_token));
      assert.equal(res.statusCode, 500, res.body);
      assert.ok(!res.body.includes('"x"'));
    });
  });

  describe('admin workspace routes', () => {
    it('POST /admin/workspaces/:id/tokens → 201 like POST /workspaces/:id/tokens, and the token works', async () => {
      const ws = await t.createWorkspace();
      const res = await inject('POST', `/admin/workspaces/${ws.id}/tokens`, t.admin(), {});
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as Json;
      assert.deepEqual(Object.keys(body).sort(), ['auth_token', 'id', 'message', 'prefix', 'workspace_id']);
      assert.equal(body['workspace_id'], ws.id);
      assert.equal(body['message'], 'Save this token now — it cannot be retrieved again.');
      assert.equal((await inject('GET', `/workspaces/${ws.id}`, t.as(String(body['auth_token'])))).statusCode, 200);
      // Without a body too (the reference's clients send none).
      assert.equal((await t.app.inject({ method: 'POST', url: `/admin/workspaces/${ws.id}/tokens`, headers: t.admin() })).statusCode, 201);
    });

    it('POST /admin/workspaces/:id/tokens: an editor key → 403, the workspace’s own token → 401, unknown → 404, a body field → 400', async () => {
      const ws = await t.createWorkspace();
      const editor = await t.mintKey({ role: 'editor' });
      const before = await t.db.selectFrom('workspace_tokens').selectAll().where('workspace_id', '=', ws.id).execute();
      assert.equal((await inject('POST', `/admin/workspaces/${ws.id}/tokens`, t.as(editor.auth_token), {})).statusCode, 403);
      assert.equal((await inject('POST', `/admin/workspaces/${ws.id}/tokens`, t.as(ws.auth_token), {})).statusCode, 401);
      const bad = await inject('POST', `/admin/workspaces/${ws.id}/tokens`, t.admin(), { name: 'x' });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json().fields, ['name']);
      assert.equal((await t.db.selectFrom('workspace_tokens').selectAll().where('workspace_id', '=', ws.id).execute()).length, before.length, 'nothing minted');
      assert.equal((await inject('POST', '/admin/workspaces/5f0c6d1e-0000-4000-8000-000000000003/tokens', t.admin(), {})).statusCode, 404);
    });

    it('POST /admin/workspaces/:id/revoke-auth-tokens revokes every live token of that workspace only', async () => {
      const ws = await t.createWorkspace();
      const other = await t.createWorkspace();
      const extra = (await inject('POST', `/workspaces/${ws.id}/tokens`, t.admin(), {})).json() as { auth_token: string };
      const res = await inject('POST', `/admin/workspaces/${ws.id}/revoke-auth-tokens`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { status: 'revoked', workspace_id: ws.id, revoked_count: 2 });
      for (const token of [ws.auth_token, extra.auth_token]) assert.equal((await inject('GET', `/workspaces/${ws.id}`, t.as(token))).statusCode, 401);
      assert.equal((await inject('GET', `/workspaces/${other.id}`, t.as(other.auth_token))).statusCode, 200, 'another workspace keeps its token');
      assert.deepEqual((await inject('POST', `/admin/workspaces/${ws.id}/revoke-auth-tokens`)).json().revoked_count, 0);
      const editor = await t.mintKey({ role: 'editor' });
      assert.equal((await inject('POST', `/admin/workspaces/${other.id}/revoke-auth-tokens`, t.as(editor.auth_token))).statusCode, 403);
      assert.equal((await inject('POST', '/admin/workspaces/5f0c6d1e-0000-4000-8000-000000000004/revoke-auth-tokens')).statusCode, 404);
    });

    it('POST /admin/workspaces/:id/restart: unknown → 404; no provisioner → 503', async () => {
      assert.equal((await inject('POST', '/admin/workspaces/5f0c6d1e-0000-4000-8000-000000000005/restart')).statusCode, 404);
      const ws = await t.createWorkspace();
      const res = await inject('POST', `/admin/workspaces/${ws.id}/restart`);
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().error, 'provisioner not available');
    });
  });

  describe('GET /workspaces/:id/audit', () => {
    it('the audit events of this workspace’s routes only, newest first, with a total', async () => {
      const ws = await t.createWorkspace();
      const other = await t.createWorkspace();
      await inject('GET', `/workspaces/${ws.id}`);
      await inject('PATCH', `/workspaces/${ws.id}`, t.admin(), { role: 'auditor' });
      await inject('GET', `/workspaces/${other.id}`);
      const res = await inject('GET', `/workspaces/${ws.id}/audit`, t.as(ws.auth_token));
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { events: Array<{ path: string; method: string; seq: number }>; total: number; chain_valid: null };
      assert.ok(body.events.length >= 2);
      assert.equal(body.total, body.events.length);
      assert.equal(body.chain_valid, null);
      assert.ok(body.events.every((e) => e.path.includes(ws.id)), 'only this workspace');
      assert.ok(body.events.some((e) => e.method === 'PATCH'));
      const seqs = body.events.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
      const page = (await inject('GET', `/workspaces/${ws.id}/audit?limit=1&offset=1`)).json() as typeof body;
      assert.equal(page.events.length, 1);
      const future = (await inject('GET', `/workspaces/${ws.id}/audit?from=2999-01-01T00:00:00Z`)).json() as typeof body;
      assert.deepEqual([future.events, future.total], [[], 0]);
    });

    it('bad query → 400 naming it', async () => {
      const ws = await t.createWorkspace();
      const from = await inject('GET', `/workspaces/${ws.id}/audit?from=yesterday`);
      assert.equal(from.statusCode, 400);
      assert.match(from.json().error, /from must be RFC 3339 \(e\.g\. 2026-04-17T00:00:00Z\)/);
      const limit = await inject('GET', `/workspaces/${ws.id}/audit?limit=501`);
      assert.equal(limit.statusCode, 400);
      assert.match(limit.json().error, /limit/);
    });
  });

  describe('PUT /canvas/viewport', () => {
    it('saves the viewport (editor and up); bad input → 400 naming the field, nothing written', async () => {
      const reader = await t.mintKey({ role: 'reader' });
      const editor = await t.mintKey({ role: 'editor' });
      const ws = await t.createWorkspace();
      assert.equal((await inject('PUT', '/canvas/viewport', t.as(reader.auth_token), { x: 0, y: 0, zoom: 1 })).statusCode, 403);
      for (const [body, field] of [
        [{ x: 0, y: 0, zoom: 0 }, 'zoom'],
        [{ x: 'a', y: 0, zoom: 1 }, 'x'],
        [{ x: 0, zoom: 1 }, 'y'],
        [{ x: 0, y: 0, zoom: 1, tilt: 2 }, 'tilt'],
      ] as const) {
        const res = await inject('PUT', '/canvas/viewport', t.as(editor.auth_token), body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.match(res.json().error, new RegExp(field));
      }
      assert.equal((await t.db.selectFrom('canvas_viewport').selectAll().execute()).length, 0, 'nothing written');
      const ok = await inject('PUT', '/canvas/viewport', t.as(editor.auth_token), { x: 12.5, y: -3, zoom: 0.75 });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().status, 'saved');
      assert.deepEqual([ok.json().x, ok.json().y, ok.json().zoom], [12.5, -3, 0.75]);
      const second = await inject('PUT', '/canvas/viewport', t.admin(), { x: 1, y: 2, zoom: 3 });
      assert.equal(second.statusCode, 200);
      const rows = await t.db.selectFrom('canvas_viewport').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.updated_by, 'admin-token');
      // The canvas tier is the admin chain: a workspace token is not enough.
      assert.equal((await inject('PUT', '/canvas/viewport', t.as(ws.auth_token), { x: 0, y: 0, zoom: 1 })).statusCode, 401);
    });
  });
});

forEachDatabase('route catalogue: hibernate and wake on real processes', (kind) => {
  let t: TestTenant;
  let agentHome: string;
  before(async () => {
    agentHome = mkdtempSync(path.join(tmpdir(), 'molecule-catalogue-agents-'));
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', PROVISION_TIMEOUT_SECONDS: '30', AGENT_HOME_DIR: agentHome },
    });
    const files = { 'config.yaml': 'name: Sleeper\ncommand: sleep 100000\n' };
    const res = await t.app.inject({ method: 'POST', url: '/templates/import', headers: t.admin(), payload: { name: 'catalogue-sleeper', files } });
    assert.equal(res.statusCode, 201, res.body);
  });
  after(async () => {
    await t?.close();
    rmSync(agentHome, { recursive: true, force: true });
  });

  interface Ws {
    status: string;
    process?: { running: boolean; pid: number } | null;
  }
  const get = async (id: string) => (await t.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: t.admin() })).json() as Ws;
  const online = (id: string, notPid?: number) =>
    waitFor(`${id} online`, async () => {
      const w = await get(id);
      return w.status === 'online' && w.process?.running && w.process.pid !== notPid ? w : undefined;
    });
  const post = async (url: string) => t.app.inject({ method: 'POST', url, headers: t.admin() });
  const hibernate = async (id: string) => {
    const res = await post(`/workspaces/${id}/hibernate`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { status: 'hibernated' });
    const w = await get(id);
    assert.equal(w.status, 'hibernated');
    assert.ok(!w.process?.running, 'the runtime is stopped');
  };

  it('hibernate stops the runtime, the sweeper leaves it alone, and restart wakes it with a new process', async () => {
    const ws = await t.createWorkspace({ template: 'catalogue-sleeper' });
    const first = await online(ws.id);
    await hibernate(ws.id);
    // The sweeper keeps ticking and does not touch a hibernated workspace (no offline, no restart).
    const tickAfter = Date.now();
    await waitFor('a sweeper tick after the hibernation', async () => {
      const s = ((await t.app.inject({ method: 'GET', url: '/admin/liveness', headers: t.admin() })).json() as { subsystems: Record<string, { last_tick_at: string | null }> }).subsystems;
      const at = s['lifecycle_sweeper']?.last_tick_at;
      return at && Date.parse(at) > tickAfter ? true : undefined;
    });
    assert.equal((await get(ws.id)).status, 'hibernated');
    const res = await post(`/workspaces/${ws.id}/restart`);
    assert.equal(res.statusCode, 200, res.body);
    await online(ws.id, first.process!.pid);
  });

  it('resume wakes a hibernated workspace', async () => {
    const ws = await t.createWorkspace({ template: 'catalogue-sleeper' });
    const first = await online(ws.id);
    await hibernate(ws.id);
    const res = await post(`/workspaces/${ws.id}/resume`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { status: 'provisioning', resumed_count: 1 });
    await online(ws.id, first.process!.pid);
  });

  it('POST /admin/workspaces/:id/restart → 202 and the runtime is replaced', async () => {
    const ws = await t.createWorkspace({ template: 'catalogue-sleeper' });
    const first = await online(ws.id);
    const res = await post(`/admin/workspaces/${ws.id}/restart`);
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json(), { status: 'restart_dispatched', workspace_id: ws.id });
    await online(ws.id, first.process!.pid);
  });
});

forEachDatabase('route catalogue: the /ws WebSocket', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { EVENT_STREAMS_PER_CREDENTIAL_MAX: '2' } });
  });
  after(() => t?.close());

  const wsUrl = () => `${t.url.replace('http', 'ws')}/ws`;

  interface Socket {
    socket: WebSocket;
    messages: Array<Record<string, unknown>>;
    closed: Promise<{ code: number; reason: string }>;
  }

  /** Opens a socket; resolves once open, or rejects with the HTTP status of a refused upgrade. */
  function open(headers: Record<string, string>): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl(), { headers });
      const messages: Array<Record<string, unknown>> = [];
      const closed = new Promise<{ code: number; reason: string }>((r) => socket.on('close', (code, reason) => r({ code, reason: reason.toString() })));
      socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
      socket.on('open', () => resolve({ socket, messages, closed }));
      socket.on('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => req.destroy());
        res.on('close', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body })));
      });
      socket.on('error', (err) => reject(err));
    });
  }
  const refusal = async (headers: Record<string, string>) => {
    try {
      const s = await open(headers);
      s.socket.close();
      return { status: 101, body: '' };
    } catch (err) {
      return err as { status: number; body: string };
    }
  };
  const setModel = async (id: string, model: string) => {
    const res = await t.app.inject({ method: 'PUT', url: `/workspaces/${id}/model`, headers: t.admin(), payload: { model } });
    assert.equal(res.statusCode, 200, res.body);
  };
  const eventsFor = (s: Socket, id: string) => s.messages.filter((m) => m['workspace_id'] === id);

  it('receives live events: a workspace’s own socket gets only its events, an org socket every workspace’s', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const own = await open({ ...t.as(a.auth_token), 'x-workspace-id': a.id });
    const org = await open(t.admin());
    await setModel(b.id, 'model-b');
    await setModel(a.id, 'model-a');
    await waitFor('A’s event on both sockets', async () => (eventsFor(own, a.id).length > 0 && eventsFor(org, a.id).length > 0 ? true : undefined));
    await waitFor('B’s event on the org socket', async () => (eventsFor(org, b.id).length > 0 ? true : undefined));
    const m = eventsFor(own, a.id)[0]!;
    assert.equal(m['event'], 'SECRET_SET');
    assert.equal((m['payload'] as Json)['key'], 'MODEL');
    assert.ok(typeof m['id'] === 'number');
    assert.ok(!Number.isNaN(Date.parse(String(m['timestamp']))));
    assert.ok(!JSON.stringify(own.messages).includes('model-a'), 'never a value');
    // B's event was recorded before A's: had the workspace socket been given it, it would be there already.
    assert.deepEqual(eventsFor(own, b.id), [], 'filtered to its workspace');
    own.socket.close();
    org.socket.close();
    await Promise.all([own.closed, org.closed]);
  });

  it('refuses a bad credential before upgrading: none, garbage, another workspace’s token, a bound key org-wide', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const routing = { 'x-molecule-org-id': t.orgId };
    assert.equal((await refusal(routing)).status, 401);
    assert.equal((await refusal({ ...routing, authorization: 'Bearer garbage' })).status, 401);
    assert.equal((await refusal({ ...t.as(b.auth_token), 'x-workspace-id': a.id })).status, 401);
    // A workspace token without naming its workspace is not the admin chain (ADMIN_TOKEN is set).
    assert.equal((await refusal(t.as(a.auth_token))).status, 401);
    const bound = await t.mintKey({ workspace_ids: [a.id] });
    assert.equal((await refusal(t.as(bound.auth_token))).status, 403);
    assert.equal((await refusal({ ...t.as(bound.auth_token), 'x-workspace-id': b.id })).status, 404);
    // TenantGuard applies: no routing header.
    assert.equal((await refusal({ authorization: `Bearer ${t.adminToken}` })).status, 400);
    const plain = await t.app.inject({ method: 'GET', url: '/ws', headers: t.admin() });
    assert.equal(plain.statusCode, 426);
  });

  it('closes when its credential is revoked (4401), and holds the streams’ per-credential limit', async () => {
    const a = await t.createWorkspace();
    const minted = (await t.app.inject({ method: 'POST', url: `/workspaces/${a.id}/tokens`, headers: t.admin(), payload: {} })).json() as { id: string; auth_token: string };
    const headers = { ...t.as(minted.auth_token), 'x-workspace-id': a.id };
    const first = await open(headers);
    const second = await open(headers);
    const third = await refusal(headers);
    assert.equal(third.status, 429, 'EVENT_STREAMS_PER_CREDENTIAL_MAX=2');
    second.socket.close();
    await second.closed;
    const revoke = await t.app.inject({ method: 'DELETE', url: `/workspaces/${a.id}/tokens/${minted.id}`, headers: t.admin() });
    assert.equal(revoke.statusCode, 200, revoke.body);
    const closed = await first.closed;
    assert.equal(closed.code, 4401);
    assert.equal(closed.reason, 'credential_invalid');
    assert.equal((await refusal(headers)).status, 401, 'and it cannot reconnect');
  });

  it('closes when the admin revokes every token of its workspace', async () => {
    const a = await t.createWorkspace();
    const s = await open({ ...t.as(a.auth_token), 'x-workspace-id': a.id });
    const res = await t.app.inject({ method: 'POST', url: `/admin/workspaces/${a.id}/revoke-auth-tokens`, headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await s.closed).code, 4401);
  });
});
