/**
 * The runtime's own calls. They sit outside the admin and workspace tiers (TenantGuard lets them through so a
 * runtime needs no org header), and authenticate in the handler: only a live token of the named workspace.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

forEachDatabase('registry routes (runtime self-authentication)', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  const routes = [
    { url: '/registry/register', body: (id: string) => ({ id, agent_card: { name: 'x' } }) },
    { url: '/registry/heartbeat', body: (id: string) => ({ workspace_id: id, error_rate: 0, active_tasks: 0, uptime_seconds: 1 }) },
  ];

  for (const r of routes) {
    it(`POST ${r.url}: only the named workspace's own live token is accepted, with no org header needed`, async () => {
      const a = await t.createWorkspace();
      const b = await t.createWorkspace();
      const key = await t.mintKey();
      const send = (bearer: string | null, payload = r.body(a.id)) =>
        t.app.inject({ method: 'POST', url: r.url, headers: bearer ? { authorization: `Bearer ${bearer}` } : {}, payload });
      const none = await send(null);
      assert.equal(none.statusCode, 401);
      assert.equal(none.json().error, 'missing workspace auth token');
      for (const wrong of [key.auth_token, t.adminToken, b.auth_token, mintCredential('workspaceToken').plaintext, 'garbage']) {
        const res = await send(wrong);
        assert.equal(res.statusCode, 401, `${wrong.slice(0, 5)} → ${res.body}`);
        assert.equal(res.json().error, 'invalid workspace auth token');
      }
      const ok = await send(a.auth_token);
      assert.equal(ok.statusCode, 200, ok.body);
      // A removed workspace's token is dead: the runtime learns it should stop.
      await t.app.inject({ method: 'DELETE', url: `/workspaces/${a.id}`, headers: t.admin() });
      assert.equal((await send(a.auth_token)).statusCode, 401);
      const bad = await send(b.auth_token, { nope: true } as never);
      assert.equal(bad.statusCode, 400);
    });
  }

  it('register marks the workspace online and heartbeats keep it fresh; error_rate ≥ 0.5 degrades it', async () => {
    const ws = await t.createWorkspace();
    const auth = { authorization: `Bearer ${ws.auth_token}` };
    const reg = await t.app.inject({ method: 'POST', url: '/registry/register', headers: auth, payload: { id: ws.id, delivery_mode: 'poll' } });
    assert.deepEqual(reg.json(), { status: 'registered', delivery_mode: 'poll' });
    const get = async () => (await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).json();
    assert.equal((await get()).status, 'online');
    await t.app.inject({ method: 'POST', url: '/registry/heartbeat', headers: auth, payload: { workspace_id: ws.id, error_rate: 0.7, active_tasks: 2, current_task: 'summarise' } });
    const degraded = await get();
    assert.deepEqual([degraded.status, degraded.active_tasks, degraded.current_task], ['degraded', 2, 'summarise']);
    await t.app.inject({ method: 'POST', url: '/registry/heartbeat', headers: auth, payload: { workspace_id: ws.id, error_rate: 0.05 } });
    assert.equal((await get()).status, 'online');
    const events = await t.db.selectFrom('workspace_events').select('event_type').where('workspace_id', '=', ws.id).orderBy('id').execute();
    assert.deepEqual(
      events.map((e) => e.event_type).filter((e) => e !== 'WORKSPACE_PROVISIONING'),
      ['WORKSPACE_ONLINE', 'WORKSPACE_DEGRADED', 'WORKSPACE_ONLINE'],
    );
  });
});
