/**
 * Process output stays out of what readers see. A workspace's runtime output (and its agent command's) may contain
 * the secrets it was given; it must never reach events or reader-visible workspace fields, only the admin-only
 * `GET /workspaces/:id/logs`, with every secret value of that workspace redacted. Real runtime processes on loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const templates = mkdtempSync(path.join(tmpdir(), 'molecule-logs-templates-'));
mkdirSync(path.join(templates, 'talker'));
// An agent that prints its secrets (as a careless or hostile agent would), in plain and JSON-escaped form, then dies.
const talker = [
  "console.log('plain ' + process.env.TALK_SECRET + ' and ' + process.env.ORG_SECRET);",
  "console.error(JSON.stringify({ quoted: process.env.QUOTED_SECRET, short: process.env.SHORT_SECRET }));",
  // A credential that is not one of the workspace's secrets: redacted by its shape.
  `console.log('token ' + ${JSON.stringify(mintCredential('orgKey').plaintext)});`,
  'setTimeout(() => process.exit(3), 400);',
].join(' ');
writeFileSync(path.join(templates, 'talker', 'template.json'), JSON.stringify({ command: `${JSON.stringify(process.execPath)} -e ${JSON.stringify(talker)}` }));

after(() => rmSync(templates, { recursive: true, force: true }));

const suffix = () => randomBytes(8).toString('hex');

forEachDatabase('workspace process output', (kind) => {
  let t: TestTenant;
  const secrets = {
    TALK_SECRET: `talk-${suffix()}`,
    QUOTED_SECRET: `q"uo\\ted-${suffix()}`,
    SHORT_SECRET: 'xyz',
  };
  const orgSecret = `org-${suffix()}`;

  before(async () => {
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', MOLECULE_TEMPLATES_DIR: templates },
    });
    const res = await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.admin(), payload: { key: 'ORG_SECRET', value: orgSecret } });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => {
    await t.close();
  });

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const logs = (id: string, headers: Record<string, string>, query = '') => t.app.inject({ method: 'GET', url: `/workspaces/${id}/logs${query}`, headers });

  it('a crashing agent’s output reaches neither events nor the workspace; the admin logs route has it, secrets redacted', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.admin(), payload: { name: `talker-${suffix()}`, template: 'talker', secrets } });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id as string;

    // The process exited at least once, unexpectedly: the tenant recorded it as WORKSPACE_OFFLINE.
    await waitFor('a WORKSPACE_OFFLINE event', async () => {
      const rows = await t.db.selectFrom('workspace_events').select('id').where('workspace_id', '=', id).where('event_type', '=', 'WORKSPACE_OFFLINE').execute();
      return rows.length > 0 ? true : undefined;
    });
    // And its output is in the ring the logs route reads.
    const body = await waitFor('the agent output in the logs', async () => {
      const res = await logs(id, t.admin());
      assert.equal(res.statusCode, 200, res.body);
      const b = res.json() as { workspace_id: string; lines: string[]; last_sample_error: string | null };
      return b.lines.some((l) => l.startsWith('plain ')) && b.lines.some((l) => l.includes('quoted')) ? b : undefined;
    });
    assert.equal(body.workspace_id, id);
    const text = body.lines.join('\n');
    assert.ok(body.lines.includes('plain [redacted] and [redacted]'), text);
    assert.ok(body.lines.includes(`{"quoted":"[redacted]","short":"xyz"}`), `JSON-escaped values are redacted too; under 4 characters is not: ${text}`);
    assert.ok(body.lines.includes('token [redacted]'), `credential-shaped strings are redacted: ${text}`);
    for (const v of [secrets.TALK_SECRET, secrets.QUOTED_SECRET, JSON.stringify(secrets.QUOTED_SECRET).slice(1, -1), orgSecret]) {
      assert.equal(text.includes(v), false, `${v} redacted`);
    }
    assert.doesNotMatch(text, /mol[aw]_[0-9A-Za-z]{9,}/);
    // Runtime-reported errors (what heartbeats say) are kept for this route only, redacted like the lines.
    assert.ok(body.last_sample_error === null || !body.last_sample_error.includes(secrets.TALK_SECRET));

    // ?tail= keeps the last lines only.
    const tail = await logs(id, t.admin(), '?tail=1');
    assert.equal(tail.statusCode, 200, tail.body);
    assert.equal(tail.json().lines.length, 1);

    // Nothing of the output is in any event or in the workspace as readers see it.
    const events = await t.db.selectFrom('workspace_events').select(['event_type', 'payload']).where('workspace_id', '=', id).execute();
    const eventText = JSON.stringify(events);
    assert.equal(eventText.includes('last_log_lines'), false, eventText);
    for (const needle of ['plain ', 'quoted', 'token ', secrets.TALK_SECRET, orgSecret]) assert.equal(eventText.includes(needle), false, `${needle} in events`);
    const reader = await t.mintKey({ role: 'reader' });
    for (const url of [`/workspaces/${id}`, '/workspaces', `/events/${id}`, '/events']) {
      const res = await t.app.inject({ method: 'GET', url, headers: t.as(reader.auth_token) });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      for (const needle of ['plain ', 'quoted', secrets.TALK_SECRET, orgSecret]) assert.equal(res.body.includes(needle), false, `${needle} in ${url}`);
    }
  });

  it('the logs route is admin-only: reader and editor keys are 403, workspace tokens 401, unknown workspaces 404', async () => {
    const ws = await t.createWorkspace();
    for (const role of ['reader', 'editor'] as const) {
      const key = await t.mintKey({ role });
      const res = await logs(ws.id, t.as(key.auth_token));
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 'ROLE_FORBIDDEN');
      assert.equal(res.json().required_role, 'admin');
    }
    const own = await logs(ws.id, t.as(ws.auth_token));
    assert.equal(own.statusCode, 401, own.body);
    assert.deepEqual([own.json().code, own.json().error], ['INVALID_ADMIN_AUTH', 'invalid admin auth token']);
    const unknown = await logs('00000000-0000-4000-8000-000000000000', t.admin());
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.equal(unknown.json().error, 'workspace not found');
    const bad = await logs(ws.id, t.admin(), '?tail=0');
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(bad.json().code, 'VALIDATION_FAILED');
  });

  it('a heartbeat’s sample_error is not a reader-visible last_error; the logs route shows it, redacted', async () => {
    const ws = await t.createWorkspace({ external: true });
    const auth = { authorization: `Bearer ${ws.auth_token}` };
    const reg = await t.app.inject({ method: 'POST', url: '/registry/register', headers: auth, payload: { id: ws.id, delivery_mode: 'poll' } });
    assert.equal(reg.statusCode, 200, reg.body);
    const value = `hb-value-${suffix()}`;
    const set = await t.app.inject({ method: 'PUT', url: `/workspaces/${ws.id}/secrets`, headers: t.admin(), payload: { key: 'HB_SECRET', value } });
    assert.equal(set.statusCode, 200, set.body);
    const hb = await t.app.inject({
      method: 'POST',
      url: '/registry/heartbeat',
      headers: auth,
      payload: { workspace_id: ws.id, error_rate: 0.9, sample_error: `Traceback: auth failed with key ${value}` },
    });
    assert.equal(hb.statusCode, 200, hb.body);
    const reader = await t.mintKey({ role: 'reader' });
    const got = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.as(reader.auth_token) });
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.json().status, 'degraded');
    assert.equal(got.json().last_error, 'the runtime reported an error rate of 0.9');
    assert.equal(got.body.includes('Traceback'), false);
    const admin = await logs(ws.id, t.admin());
    assert.equal(admin.statusCode, 200, admin.body);
    assert.deepEqual(admin.json(), { workspace_id: ws.id, lines: [], last_sample_error: 'Traceback: auth failed with key [redacted]' });
  });
});

forEachDatabase('workspace logs without ADMIN_TOKEN', (kind) => {
  it('a workspace token acting as admin (deprecated tier 3) is still refused on the logs route', async () => {
    const t = await startTestTenant(kind, { withoutAdminToken: true });
    try {
      const headers = { 'x-molecule-org-id': t.orgId };
      // Tier 0 (lazy bootstrap) creates a workspace and the first key, which closes it.
      const ws = await t.app.inject({ method: 'POST', url: '/workspaces', headers, payload: { name: 'tier3' } });
      assert.equal(ws.statusCode, 201, ws.body);
      const key = await t.app.inject({ method: 'POST', url: '/org/tokens', headers, payload: { name: 'first' } });
      assert.equal(key.statusCode, 200, key.body);
      const token = ws.json().auth_token as string;
      const asWorkspace = { ...headers, authorization: `Bearer ${token}` };
      // Control: tier 3 does pass the admin chain elsewhere.
      const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: asWorkspace });
      assert.equal(list.statusCode, 200, list.body);
      assert.equal(list.headers['deprecation'], 'true');
      const res = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.json().id}/logs`, headers: asWorkspace });
      assert.equal(res.statusCode, 401, res.body);
      assert.deepEqual([res.json().code, res.json().error], ['INVALID_ADMIN_AUTH', 'invalid admin auth token']);
      const byKey = await t.app.inject({ method: 'GET', url: `/workspaces/${ws.json().id}/logs`, headers: { ...headers, authorization: `Bearer ${key.json().auth_token}` } });
      assert.equal(byKey.statusCode, 200, byKey.body);
    } finally {
      await t.close();
    }
  });
});
