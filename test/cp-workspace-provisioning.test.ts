/**
 * Workspaces run by the control plane (issue 9 item 5; reference-control-plane.md §2.5, §3.3, §3.4, §2.4 "Image
 * pins", §7 checks 41–47), end to end on loopback: a real CP (PROVISION_SHARED_SECRET set) and a real tenant with
 * WORKSPACE_PROVISIONER=cp whose org has an instance row (url = the tenant's URL) and a minted admin token. Creating
 * a workspace on the tenant makes the CP start a real runtime process, which registers and heartbeats with the
 * tenant; deleting it terminates the CP's process. Another org's token can neither read nor stop it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runtimeDigest } from '../src/core/compute/runtime-launcher.js';
import { ConfigError } from '../src/core/config.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { createLogger } from '../src/core/logger.js';
import { terminateOrgWorkspaces, WorkspaceRunner } from '../src/control-plane/workspaces/runner.js';
import { loadTenantConfig } from '../src/tenant/config.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type DbKind, type TestTenant } from './harness.js';

const SECRET = `provision-${'7'.repeat(32)}`;
const RUNTIME = 'e2e-runtime';

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

forEachDatabase('workspaces run by the control plane', (kind: DbKind) => {
  let cp: TestControlPlane;
  let tenant: TestTenant;
  let orgA: TestOrg;
  let orgB: TestOrg;
  let tokenA: string;
  let tokenB: string;
  /** Where the CP puts the directories of the agents it runs (WORKSPACE_AGENT_HOME_DIR). */
  const cpAgentHome = mkdtempSync(path.join(tmpdir(), 'molecule-cp-agents-'));

  const provisionHeaders = (token: string) => ({ authorization: `Bearer ${SECRET}`, 'x-molecule-admin-token': token });
  const tenantAdmin = () => ({ authorization: `Bearer ${tokenA}`, 'x-molecule-org-id': orgA.id });

  /** A CP call over real HTTP. */
  async function cpCall(method: string, path: string, headers: Record<string, string>, body?: unknown) {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  }

  async function tenantWorkspace(id: string) {
    const res = await tenant.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: tenantAdmin() });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { id: string; status: string; last_error: string | null };
  }

  const instancesOf = (workspaceId: string) =>
    cp.db.selectFrom('cp_workspace_instances').select(['instance_id', 'org_id', 'state', 'runtime']).where('workspace_id', '=', workspaceId).orderBy('created_at').execute();

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true, env: { PROVISION_SHARED_SECRET: SECRET, WORKSPACE_AGENT_HOME_DIR: cpAgentHome } });
    const owner = await cp.signup();
    orgA = await cp.createOrg(owner);
    orgB = await cp.createOrg(owner);
    // The tenant provisioner is written elsewhere: the instance rows and tokens are set as it would set them.
    tokenA = await cp.mintTenantAdminToken(orgA.id);
    tokenB = await cp.mintTenantAdminToken(orgB.id, { url: 'http://127.0.0.1:10' });
    const available = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/runtime-image', headers: cp.admin() });
    const digest = (available.json() as { available: { digest: string } }).available.digest;
    const pin = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/runtime-image/promote', headers: cp.admin(), payload: { template: RUNTIME, digest } });
    assert.equal(pin.statusCode, 200, pin.body);
    tenant = await startTestTenant(kind, {
      listen: true,
      env: {
        WORKSPACE_PROVISIONER: 'cp',
        CP_UPSTREAM_URL: cp.url,
        MOLECULE_ORG_ID: orgA.id,
        ADMIN_TOKEN: tokenA,
        MOLECULE_CP_SHARED_SECRET: SECRET,
        HEARTBEAT_INTERVAL_SECONDS: '1',
        HEARTBEAT_TTL_SECONDS: '30',
      },
    });
    await cp.db.updateTable('org_instances').set({ url: tenant.url }).where('org_id', '=', orgA.id).execute();
  });

  after(async () => {
    await tenant?.close();
    await cp?.close();
    rmSync(cpAgentHome, { recursive: true, force: true });
  });

  it('runtime-image pins: the available digest is this build of the runtime; promote refuses any other (400 naming digest) and answers cp-admin', async () => {
    const list = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/runtime-image', headers: cp.admin() });
    assert.equal(list.statusCode, 200, list.body);
    const body = list.json() as { pins: Array<Record<string, unknown>>; available: { digest: string } };
    assert.equal(body.available.digest, runtimeDigest());
    assert.match(body.available.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(
      body.pins.map((p) => [p['template'], p['digest'], p['promoted_by']]),
      [[RUNTIME, body.available.digest, 'cp-admin']],
    );
    const other = `sha256:${'0'.repeat(64)}`;
    const refused = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/runtime-image/promote', headers: cp.admin(), payload: { template: 'x', digest: other } });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.deepEqual((refused.json() as { fields: string[] }).fields, ['digest']);
    const bad = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/runtime-image/promote', headers: cp.admin(), payload: { template: 'x', digest: 'latest' } });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.deepEqual((bad.json() as { fields: string[] }).fields, ['digest']);
    const pins = await cp.db.selectFrom('runtime_image_pins').select('template').execute();
    assert.deepEqual(pins, [{ template: RUNTIME }], 'nothing was pinned by the refused calls');
  });

  let workspaceId: string;

  it('a workspace created on the tenant goes online with its runtime run by the control plane', async () => {
    const res = await tenant.app.inject({ method: 'POST', url: '/workspaces', headers: tenantAdmin(), payload: { name: 'cp-run', runtime: RUNTIME } });
    assert.equal(res.statusCode, 201, res.body);
    workspaceId = (res.json() as { id: string }).id;
    await waitFor('the workspace online', async () => (await tenantWorkspace(workspaceId)).status === 'online');
    const rows = await instancesOf(workspaceId);
    assert.equal(rows.length, 1);
    assert.deepEqual({ ...rows[0], instance_id: undefined }, { instance_id: undefined, org_id: orgA.id, state: 'running', runtime: RUNTIME });
    // The process is the CP's, not the tenant's: the tenant holds no local process for it.
    const info = await tenant.app.inject({ method: 'GET', url: `/workspaces/${workspaceId}`, headers: tenantAdmin() });
    assert.equal((info.json() as { process?: { pid: number | null } | null }).process?.pid ?? null, null);
    assert.ok(cp.workspaces.ownerOf(workspaceId) === orgA.id, 'the CP runs it for org A');
  });

  it("status through the provisioning API: 400 without instance_id; org A's token → running; org B's token → 404", async () => {
    const [row] = await instancesOf(workspaceId);
    const missing = await cpCall('GET', `/api/v1/workspaces/${workspaceId}/status`, provisionHeaders(tokenA));
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body['fields'], ['instance_id']);
    const ok = await cpCall('GET', `/cp/workspaces/${workspaceId}/status?instance_id=${row!.instance_id}`, provisionHeaders(tokenA));
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { instance_id: row!.instance_id, state: 'running', public_ip: null, private_ip: '127.0.0.1' });
    const other = await cpCall('GET', `/cp/workspaces/${workspaceId}/status?instance_id=${row!.instance_id}`, provisionHeaders(tokenB));
    assert.equal(other.status, 404);
    assert.equal(other.body['code'], 'WORKSPACE_NOT_FOUND');
  });

  it("org B's token cannot terminate org A's workspace: 404, and it keeps running and heartbeating", async () => {
    const [row] = await instancesOf(workspaceId);
    for (const path of [`/cp/workspaces/${workspaceId}?instance_id=${row!.instance_id}`, `/api/v1/workspaces/${workspaceId}?prune=true`, `/cp/workspaces/${workspaceId}`]) {
      const res = await cpCall('DELETE', path, provisionHeaders(tokenB));
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body['code'], 'WORKSPACE_NOT_FOUND');
    }
    // Provisioning the same workspace id for B is refused too (it would replace A's runtime).
    const hijack = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenB), {
      org_id: orgB.id,
      workspace_id: workspaceId,
      runtime: RUNTIME,
      platform_url: 'http://127.0.0.1:10',
      env: { MOLECULE_WORKSPACE_TOKEN: mintCredential('workspaceToken').plaintext },
    });
    assert.equal(hijack.status, 409, JSON.stringify(hijack.body));
    assert.deepEqual(
      (await instancesOf(workspaceId)).map((r) => [r.org_id, r.state]),
      [[orgA.id, 'running']],
    );
    const before = await tenant.db.selectFrom('workspaces').select('last_heartbeat_at').where('id', '=', workspaceId).executeTakeFirstOrThrow();
    await waitFor('a later heartbeat', async () => {
      const now = await tenant.db.selectFrom('workspaces').select(['last_heartbeat_at', 'status']).where('id', '=', workspaceId).executeTakeFirstOrThrow();
      return now.status === 'online' && now.last_heartbeat_at !== null && before.last_heartbeat_at !== null && now.last_heartbeat_at > before.last_heartbeat_at;
    });
  });

  it('a runtime the CP stops unasked is an exit to the tenant: it provisions it again and the workspace comes back online', async () => {
    const [row] = await instancesOf(workspaceId);
    // As if the CP had lost it: stopped behind the tenant's back through the API.
    const res = await cpCall('DELETE', `/api/v1/workspaces/${workspaceId}?instance_id=${row!.instance_id}`, provisionHeaders(tokenA));
    assert.deepEqual([res.status, res.body], [200, { status: 'terminated', pruned: false }]);
    const again = await waitFor('a new instance', async () => {
      const rows = await instancesOf(workspaceId);
      return rows.length === 2 && rows[1]!.state === 'running' ? rows : null;
    });
    assert.equal(again[0]!.state, 'terminated');
    await waitFor('the workspace online again', async () => (await tenantWorkspace(workspaceId)).status === 'online');
    const ws = await tenant.db.selectFrom('workspaces').select('restart_count').where('id', '=', workspaceId).executeTakeFirstOrThrow();
    assert.ok(ws.restart_count >= 1, 'counted as an unexpected exit');
  });

  it("deleting the workspace on the tenant terminates the CP's runtime; a repeat DELETE at the CP is idempotent", async () => {
    const res = await tenant.app.inject({ method: 'DELETE', url: `/workspaces/${workspaceId}?confirm=true`, headers: tenantAdmin() });
    assert.ok(res.statusCode === 200 || res.statusCode === 204, res.body);
    await waitFor('every instance terminated', async () => (await instancesOf(workspaceId)).every((r) => r.state === 'terminated'));
    assert.equal(cp.workspaces.ownerOf(workspaceId), null, 'no runtime left on the CP');
    const repeat = await cpCall('DELETE', `/cp/workspaces/${workspaceId}`, provisionHeaders(tokenA));
    assert.deepEqual([repeat.status, repeat.body], [200, { status: 'terminated', pruned: false }]);
  });

  it('a runtime with no pin: 422 {"error":"RUNTIME_PIN_MISSING"} at the CP, and the tenant marks the workspace failed with it', async () => {
    const direct = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), {
      org_id: orgA.id,
      workspace_id: randomUUID(),
      runtime: 'never-pinned',
      platform_url: tenant.url,
      env: { MOLECULE_WORKSPACE_TOKEN: mintCredential('workspaceToken').plaintext },
    });
    assert.equal(direct.status, 422);
    assert.equal(direct.body['error'], 'RUNTIME_PIN_MISSING');
    assert.equal(direct.body['code'], 'RUNTIME_PIN_MISSING');
    const res = await tenant.app.inject({ method: 'POST', url: '/workspaces', headers: tenantAdmin(), payload: { name: 'unpinned', runtime: 'never-pinned' } });
    assert.equal(res.statusCode, 201, res.body);
    const id = (res.json() as { id: string }).id;
    const ws = await waitFor('the workspace failed', async () => {
      const w = await tenantWorkspace(id);
      return w.status === 'failed' ? w : null;
    });
    assert.match(String(ws.last_error), /RUNTIME_PIN_MISSING/);
    assert.deepEqual(await instancesOf(id), [], 'nothing was started');
  });

  it('SSRF guard: platform_url must be the calling org’s tenant — the metadata address, another tenant, a random host or a non-http URL → 400 naming platform_url, nothing started', async () => {
    for (const platformUrl of ['http://169.254.169.254/', 'http://127.0.0.1:10', 'https://example.com', 'file:///etc/passwd', `${tenant.url.replace('127.0.0.1', 'localhost')}`, `http://user:pw@${tenant.url.slice(7)}`]) {
      const id = randomUUID();
      const res = await cpCall('POST', '/api/v1/workspaces/provision', provisionHeaders(tokenA), {
        org_id: orgA.id,
        workspace_id: id,
        runtime: RUNTIME,
        platform_url: platformUrl,
        env: { MOLECULE_WORKSPACE_TOKEN: mintCredential('workspaceToken').plaintext },
      });
      assert.equal(res.status, 400, `${platformUrl}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body['fields'], ['platform_url'], platformUrl);
      assert.match(String(res.body['error']), /platform_url/);
      assert.deepEqual(await instancesOf(id), []);
    }
  });

  it('a workspace from a template: the tenant sends its files and command, and the CP writes them into the agent’s directory before it runs', async () => {
    const files = { 'config.yaml': 'name: CP files\ncommand: cp data/hello.txt ran.txt; sleep 100000\n', 'data/hello.txt': 'hello from the tenant’s database\n' };
    const imported = await tenant.app.inject({ method: 'POST', url: '/templates/import', headers: tenantAdmin(), payload: { name: 'cp-files', files } });
    assert.equal(imported.statusCode, 201, imported.body);
    const res = await tenant.app.inject({ method: 'POST', url: '/workspaces', headers: tenantAdmin(), payload: { name: 'cp-templated', runtime: RUNTIME, template: 'cp-files' } });
    assert.equal(res.statusCode, 201, res.body);
    const id = (res.json() as { id: string }).id;
    await waitFor('the templated workspace online', async () => (await tenantWorkspace(id)).status === 'online');
    const home = path.join(cpAgentHome, id);
    assert.equal(readFileSync(path.join(home, 'data', 'hello.txt'), 'utf8'), files['data/hello.txt']);
    assert.ok(lstatSync(path.join(home, 'config.yaml')).isFile());
    // The command came with the request (agent_command): the CP has no templates directory of its own here.
    await waitFor('the agent command ran in its directory', async () => existsSync(path.join(home, 'ran.txt')));
    const del = await tenant.app.inject({ method: 'DELETE', url: `/workspaces/${id}`, headers: tenantAdmin() });
    assert.equal(del.statusCode, 200, del.body);
  });

  it("org_id must be the token's org (another org → 404), env names the platform reserves → 400, config_files over 1 MiB a file or with a bad path → 400, a template outside the templates directory → 400", async () => {
    const base = { workspace_id: randomUUID(), runtime: RUNTIME, platform_url: tenant.url };
    const token = mintCredential('workspaceToken').plaintext;
    const otherOrg = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgB.id, env: { MOLECULE_WORKSPACE_TOKEN: token } });
    assert.equal(otherOrg.status, 404);
    assert.equal(otherOrg.body['code'], 'ORG_NOT_FOUND');
    const noToken = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgA.id, env: {} });
    assert.equal(noToken.status, 400);
    assert.deepEqual(noToken.body['fields'], ['env']);
    assert.match(String(noToken.body['error']), /env\.MOLECULE_WORKSPACE_TOKEN/);
    const reserved = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgA.id, env: { MOLECULE_WORKSPACE_TOKEN: token, LD_PRELOAD: '/x.so' } });
    assert.equal(reserved.status, 400);
    assert.match(String(reserved.body['error']), /LD_PRELOAD/);
    const big = Buffer.alloc(1024 * 1024 + 1).toString('base64');
    const tooBig = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgA.id, env: { MOLECULE_WORKSPACE_TOKEN: token }, config_files: { 'a.yaml': big } });
    assert.equal(tooBig.status, 400);
    assert.deepEqual(tooBig.body['fields'], ['config_files']);
    for (const bad of ['../escape', '/etc/passwd', 'a\\b', 'a/./b']) {
      const refused = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgA.id, env: { MOLECULE_WORKSPACE_TOKEN: token }, config_files: { [bad]: 'AA==' } });
      assert.equal(refused.status, 400, bad);
      assert.deepEqual(refused.body['fields'], ['config_files'], bad);
    }
    const assets = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgA.id, env: { MOLECULE_WORKSPACE_TOKEN: token }, template_assets: { 'bin/evil': 'AA==' } });
    assert.equal(assets.status, 400);
    assert.deepEqual(assets.body['fields'], ['template_assets']);
    for (const template of ['..', '.hidden', 'a/b']) {
      const res = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), { ...base, org_id: orgA.id, template, env: { MOLECULE_WORKSPACE_TOKEN: token } });
      assert.equal(res.status, 400, template);
      assert.deepEqual(res.body['fields'], ['template'], template);
    }
    assert.deepEqual(await instancesOf(base.workspace_id), []);
  });

  it('provisioning the same workspace again replaces its runtime (the old one stopped first); status of the old instance says terminated', async () => {
    const id = randomUUID();
    const body = () => ({ org_id: orgA.id, workspace_id: id, runtime: RUNTIME, platform_url: tenant.url, tier: 1, env: { MOLECULE_WORKSPACE_TOKEN: mintCredential('workspaceToken').plaintext } });
    const first = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), body());
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual({ ...first.body, instance_id: undefined }, { instance_id: undefined, state: 'running', runtime: RUNTIME, private_ip: '127.0.0.1', public_ip: null });
    assert.match(String(first.body['instance_id']), /^wsi_/);
    const second = await cpCall('POST', '/cp/workspaces/provision', provisionHeaders(tokenA), body());
    assert.equal(second.status, 201);
    assert.deepEqual(
      (await instancesOf(id)).map((r) => [r.instance_id, r.state]),
      [
        [first.body['instance_id'], 'terminated'],
        [second.body['instance_id'], 'running'],
      ],
    );
    const old = await cpCall('GET', `/cp/workspaces/${id}/status?instance_id=${String(first.body['instance_id'])}`, provisionHeaders(tokenA));
    assert.equal(old.body['state'], 'terminated');
    const gone = await cpCall('DELETE', `/cp/workspaces/${id}?prune=true`, provisionHeaders(tokenA));
    assert.deepEqual([gone.status, gone.body], [200, { status: 'terminated', pruned: true }]);
  });

  it('terminateOrgWorkspaces stops every runtime of one org and no other; closing a runner stops the rest', async () => {
    const logger = createLogger({ name: 'test-runner', level: 'silent' });
    const runner = WorkspaceRunner.fromConfig(cp.db, cp.config, logger);
    const launch = (id: string) => ({ workspaceId: id, platformUrl: 'http://127.0.0.1:9', token: mintCredential('workspaceToken').plaintext, secrets: {}, command: undefined, heartbeatIntervalSeconds: 30 });
    const [a1, a2, b1] = [randomUUID(), randomUUID(), randomUUID()];
    await runner.provision(orgA.id, RUNTIME, runtimeDigest(), launch(a1));
    await runner.provision(orgA.id, RUNTIME, runtimeDigest(), launch(a2));
    await runner.provision(orgB.id, RUNTIME, runtimeDigest(), launch(b1));
    assert.equal(await terminateOrgWorkspaces(runner, orgA.id), 2);
    const state = async (id: string) => (await instancesOf(id)).map((r) => r.state);
    assert.deepEqual([await state(a1), await state(a2), await state(b1)], [['terminated'], ['terminated'], ['running']]);
    assert.equal(runner.ownerOf(b1), orgB.id);
    assert.equal(await terminateOrgWorkspaces({ workspaces: runner }, orgA.id), 0, 'idempotent');
    await runner.close();
    assert.deepEqual(await state(b1), ['terminated']);
    assert.equal(runner.ownerOf(b1), null);
  });
});

describe('tenant config: WORKSPACE_PROVISIONER=cp', () => {
  it('refuses to boot without CP_UPSTREAM_URL, ADMIN_TOKEN and a provision secret, naming each', () => {
    assert.throws(
      () => loadTenantConfig({ WORKSPACE_PROVISIONER: 'cp' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => p.split(':')[0]),
          ['CP_UPSTREAM_URL', 'ADMIN_TOKEN', 'MOLECULE_CP_SHARED_SECRET'],
        );
        return true;
      },
    );
  });

  it('accepts MOLECULE_CP_SHARED_SECRET, or the legacy PROVISION_SHARED_SECRET', () => {
    const base = { WORKSPACE_PROVISIONER: 'cp', CP_UPSTREAM_URL: 'http://127.0.0.1:1', MOLECULE_ORG_ID: randomUUID(), ADMIN_TOKEN: mintCredential('tenantAdminToken').plaintext };
    assert.equal(loadTenantConfig({ ...base, MOLECULE_CP_SHARED_SECRET: SECRET }).WORKSPACE_PROVISIONER, 'cp');
    assert.equal(loadTenantConfig({ ...base, PROVISION_SHARED_SECRET: SECRET }).PROVISION_SHARED_SECRET, SECRET);
  });
});
