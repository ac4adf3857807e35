/**
 * Plugins (issue 11 item 3): the catalog (built-ins + MOLECULE_PLUGINS_DIR), install / list / uninstall into a
 * workspace, the org allowlist with the reference's bodies and errors (§3.14), enforced on every workspace however
 * deep and failing CLOSED (503) when it cannot be read, the environment check (412), bad input refused with nothing
 * written, roles and audit; and on real processes: a plugin outside the allowlist is refused and one inside installs
 * into a running workspace, its files materialised in the workspace's directory after `restart: true`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

function makePluginsDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-plugins-test-'));
  mkdirSync(path.join(dir, 'needs-env'));
  writeFileSync(path.join(dir, 'needs-env', 'plugin.yaml'), 'name: needs-env\nversion: 2.1.0\ndescription: needs a key\nrequired_env: [PLUGIN_API_KEY, PLUGIN_REGION]\n');
  writeFileSync(path.join(dir, 'needs-env', 'README.md'), '# needs env\n');
  // A broken one is skipped (logged), never fatal.
  mkdirSync(path.join(dir, 'Broken Name'));
  writeFileSync(path.join(dir, 'Broken Name', 'plugin.yaml'), 'name: Broken Name\n');
  return dir;
}

interface CatalogItem {
  name: string;
  version: string;
  description: string;
  required_env: string[];
  skills: string[];
  files: string[];
  origin: string;
  source: string;
}

async function pluginRowCounts(t: TestTenant): Promise<{ installed: number; files: number; allowlist: number }> {
  const one = async (table: 'workspace_plugins' | 'workspace_plugin_files' | 'org_plugin_allowlist') =>
    Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  return { installed: await one('workspace_plugins'), files: await one('workspace_plugin_files'), allowlist: await one('org_plugin_allowlist') };
}

forEachDatabase('plugins: API', (kind) => {
  let t: TestTenant;
  let dir: string;
  before(async () => {
    dir = makePluginsDir();
    t = await startTestTenant(kind, { env: { MOLECULE_PLUGINS_DIR: dir } });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers = t.admin()) =>
    t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  const allowlistUrl = () => `/orgs/${t.orgId}/plugins/allowlist`;

  it('GET /plugins lists the built-ins and the directory’s plugins, skipping a broken one', async () => {
    const res = await inject('GET', '/plugins');
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json() as CatalogItem[];
    assert.deepEqual(
      items.map((i) => i.name),
      ['hello-skill', 'needs-env', 'shell-tools'],
    );
    const hello = items.find((i) => i.name === 'hello-skill')!;
    assert.deepEqual(hello, {
      name: 'hello-skill',
      version: '1.0.0',
      description: hello.description,
      required_env: [],
      skills: ['hello'],
      files: ['plugin.yaml', 'skills/hello/SKILL.md'],
      origin: 'builtin',
      source: 'local://hello-skill',
    });
    assert.match(hello.description, /greet/);
    const shell = items.find((i) => i.name === 'shell-tools')!;
    assert.deepEqual(shell.files, ['bin/workspace-summary.sh', 'plugin.yaml']);
    const needs = items.find((i) => i.name === 'needs-env')!;
    assert.equal(needs.origin, 'dir');
    assert.deepEqual(needs.required_env, ['PLUGIN_API_KEY', 'PLUGIN_REGION']);
    const { authorization: _dropped, ...noCredential } = t.admin();
    assert.equal((await inject('GET', '/plugins', undefined, noCredential)).statusCode, 401);
  });

  it('installs, lists and uninstalls; a reinstall replaces; each write audited with an event', async () => {
    const ws = await t.createWorkspace({ name: 'plug-a' });
    const res = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'local://hello-skill' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { status: 'installed', plugin: 'hello-skill', version: '1.0.0', source: 'local://hello-skill', restarting: false });
    // The bare name and a pinned version install too (a reinstall replaces the row and its files).
    const again = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'hello-skill@1.0.0' });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().source, 'local://hello-skill@1.0.0');
    const list = await inject('GET', `/workspaces/${ws.id}/plugins`);
    assert.equal(list.statusCode, 200, list.body);
    const items = list.json() as Array<Record<string, string>>;
    assert.equal(items.length, 1);
    assert.deepEqual(Object.keys(items[0]!).sort(), ['installed_at', 'installed_by', 'name', 'source', 'version']);
    assert.equal(items[0]!.name, 'hello-skill');
    assert.equal(items[0]!.source, 'local://hello-skill@1.0.0');
    assert.equal(items[0]!.installed_by, 'admin-token');
    const files = await t.db.selectFrom('workspace_plugin_files').select('path').where('workspace_id', '=', ws.id).orderBy('path').execute();
    assert.deepEqual(
      files.map((f) => f.path),
      ['plugin.yaml', 'skills/hello/SKILL.md'],
    );
    // The workspace token installs into its own workspace (the reference's WorkspaceAuth).
    const byToken = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'shell-tools' }, t.as(ws.auth_token));
    assert.equal(byToken.statusCode, 200, byToken.body);
    const del = await inject('DELETE', `/workspaces/${ws.id}/plugins/hello-skill`);
    assert.equal(del.statusCode, 200, del.body);
    assert.deepEqual(del.json(), { status: 'uninstalled', plugin: 'hello-skill', restarting: false });
    assert.deepEqual(
      ((await inject('GET', `/workspaces/${ws.id}/plugins`)).json() as Array<{ name: string }>).map((p) => p.name),
      ['shell-tools'],
    );
    const gone = await inject('DELETE', `/workspaces/${ws.id}/plugins/hello-skill`);
    assert.equal(gone.statusCode, 404, gone.body);
    assert.equal(gone.json().error, 'plugin not installed');
    assert.equal(
      (await t.db.selectFrom('workspace_plugin_files').select('path').where('workspace_id', '=', ws.id).where('plugin_name', '=', 'hello-skill').execute()).length,
      0,
      'the files went with it',
    );
    const audited = await t.db.selectFrom('audit_events').select(['method', 'route', 'status']).where('route', 'in', ['/workspaces/:id/plugins', '/workspaces/:id/plugins/:name']).execute();
    assert.equal(audited.filter((a) => a.method === 'POST' && a.status === 200).length, 3);
    assert.equal(audited.filter((a) => a.method === 'DELETE' && a.status === 200).length, 1);
    const events = await t.db.selectFrom('workspace_events').select('event_type').where('workspace_id', '=', ws.id).where('event_type', 'in', ['PLUGIN_INSTALLED', 'PLUGIN_UNINSTALLED']).execute();
    assert.equal(events.length, 4);
  });

  it('concurrent installs of one plugin into one workspace both succeed, leaving one copy', async () => {
    const ws = await t.createWorkspace({ name: 'plug-race' });
    const results = await Promise.all(Array.from({ length: 4 }, () => inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'local://hello-skill' })));
    for (const r of results) assert.equal(r.statusCode, 200, r.body);
    assert.equal((await t.db.selectFrom('workspace_plugins').select('name').where('workspace_id', '=', ws.id).execute()).length, 1);
    assert.equal((await t.db.selectFrom('workspace_plugin_files').select('path').where('workspace_id', '=', ws.id).execute()).length, 2);
  });

  it('allowlist: the reference’s GET/PUT bodies and errors; nothing written for bad input', async () => {
    const empty = await inject('GET', allowlistUrl());
    assert.equal(empty.statusCode, 200, empty.body);
    assert.deepEqual(empty.json(), { org_id: t.orgId, plugins: [], allow_all: true });
    const noBy = await inject('PUT', allowlistUrl(), { plugins: ['a'] });
    assert.equal(noBy.statusCode, 400);
    assert.equal(noBy.json().error, 'enabled_by is required');
    for (const bad of ['../x', 'a/b', 'a\\b', '', '..', 'UPPER']) {
      const res = await inject('PUT', allowlistUrl(), { plugins: ['hello-skill', bad], enabled_by: 'u' });
      assert.equal(res.statusCode, 400, `${bad}: ${res.body}`);
      const body = res.json();
      assert.equal(body.error, 'invalid plugin name');
      assert.equal(body.plugin_name, bad);
      assert.equal(typeof body.detail, 'string');
    }
    assert.equal((await pluginRowCounts(t)).allowlist, 0, 'nothing written');
    const put = await inject('PUT', allowlistUrl(), { plugins: ['shell-tools', 'hello-skill', 'hello-skill'], enabled_by: 'alice' });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), { org_id: t.orgId, plugins: ['shell-tools', 'hello-skill', 'hello-skill'], allow_all: false });
    const got = (await inject('GET', allowlistUrl())).json() as { plugins: Array<{ plugin_name: string; enabled_by: string; enabled_at: string }>; allow_all: boolean };
    assert.equal(got.allow_all, false);
    assert.deepEqual(
      got.plugins.map((p) => [p.plugin_name, p.enabled_by]),
      [
        ['hello-skill', 'alice'],
        ['shell-tools', 'alice'],
      ],
    );
    assert.ok(!Number.isNaN(Date.parse(got.plugins[0]!.enabled_at)));
    // A root workspace id names the org too (the reference's key); a random UUID or another string → 404 org not found.
    const root = await t.createWorkspace({ name: 'allow-root' });
    assert.equal((await inject('GET', `/orgs/${root.id}/plugins/allowlist`)).json().allow_all, false);
    for (const other of ['8f8e2c7e-1d1b-4c8e-9f35-0a6b2b3c4d5e', 'not-an-org']) {
      const res = await inject('GET', `/orgs/${other}/plugins/allowlist`);
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().error, 'org not found');
      assert.equal((await inject('PUT', `/orgs/${other}/plugins/allowlist`, { plugins: [], enabled_by: 'x' })).statusCode, 404);
    }
    const child = await t.createWorkspace({ name: 'allow-child', parent_id: root.id });
    assert.equal((await inject('GET', `/orgs/${child.id}/plugins/allowlist`)).statusCode, 404, 'a child is not an org');
    const audited = await t.db.selectFrom('audit_events').select(['method', 'status']).where('route', '=', '/orgs/:id/plugins/allowlist').where('method', '=', 'PUT').where('status', '=', 200).execute();
    assert.equal(audited.length, 1);
    // Empty again: allow all (the reference's meaning, kept).
    const clear = await inject('PUT', allowlistUrl(), { plugins: [], enabled_by: 'alice' });
    assert.deepEqual(clear.json(), { org_id: t.orgId, plugins: [], allow_all: true });
  });

  it('enforcement: outside the allowlist → 403 (the reference’s body) on every workspace however deep; inside → installs', async () => {
    const root = await t.createWorkspace({ name: 'enf-root' });
    const child = await t.createWorkspace({ name: 'enf-child', parent_id: root.id });
    const grandchild = await t.createWorkspace({ name: 'enf-grandchild', parent_id: child.id });
    assert.equal((await inject('PUT', allowlistUrl(), { plugins: ['hello-skill'], enabled_by: 'sec' })).statusCode, 200);
    try {
      for (const ws of [root, child, grandchild]) {
        const before = await pluginRowCounts(t);
        const refused = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'local://shell-tools' });
        assert.equal(refused.statusCode, 403, refused.body);
        assert.equal(refused.json().error, 'plugin "shell-tools" is not in the org allowlist');
        assert.equal(refused.json().code, 'PLUGIN_NOT_ALLOWED');
        assert.deepEqual(await pluginRowCounts(t), before, 'nothing written');
        const ok = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'local://hello-skill' });
        assert.equal(ok.statusCode, 200, ok.body);
      }
    } finally {
      await inject('PUT', allowlistUrl(), { plugins: [], enabled_by: 'sec' });
    }
  });

  it('fails closed: the allowlist unreadable → 503, nothing installed', async () => {
    const ws = await t.createWorkspace({ name: 'outage' });
    await sql`alter table org_plugin_allowlist rename to org_plugin_allowlist_away`.execute(t.db);
    try {
      const res = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'local://hello-skill' });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'platform_unavailable');
    } finally {
      await sql`alter table org_plugin_allowlist_away rename to org_plugin_allowlist`.execute(t.db);
    }
    assert.equal((await t.db.selectFrom('workspace_plugins').select('name').where('workspace_id', '=', ws.id).execute()).length, 0);
    // Readable again: the same install goes through.
    assert.equal((await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'local://hello-skill' })).statusCode, 200);
  });

  it('a plugin needing environment the workspace lacks → 412 naming it; workspace or org-wide secrets satisfy it', async () => {
    const ws = await t.createWorkspace({ name: 'env-ws' });
    const first = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'needs-env' });
    assert.equal(first.statusCode, 412, first.body);
    assert.deepEqual(first.json().missing_env, ['PLUGIN_API_KEY', 'PLUGIN_REGION']);
    assert.match(first.json().error, /PLUGIN_API_KEY, PLUGIN_REGION/);
    assert.equal((await inject('PUT', `/workspaces/${ws.id}/secrets`, { key: 'PLUGIN_API_KEY', value: 'k' })).statusCode, 200);
    const second = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'needs-env' });
    assert.equal(second.statusCode, 412);
    assert.deepEqual(second.json().missing_env, ['PLUGIN_REGION']);
    assert.equal((await inject('PUT', '/settings/secrets', { key: 'PLUGIN_REGION', value: 'eu' })).statusCode, 200);
    const third = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'needs-env' });
    assert.equal(third.statusCode, 200, third.body);
    assert.equal(third.json().version, '2.1.0');
  });

  it('bad input: bad names, traversal, other schemes, unknown plugin or version → 4xx naming it, nothing written', async () => {
    const ws = await t.createWorkspace({ name: 'bad-input' });
    const before = await pluginRowCounts(t);
    const cases: Array<[unknown, number, RegExp]> = [
      [{ source: '../etc' }, 400, /invalid plugin name/],
      [{ source: 'local://../../x' }, 400, /invalid plugin name/],
      [{ source: 'local://a/b' }, 400, /invalid plugin name/],
      [{ source: 'hello-skill/..' }, 400, /invalid plugin name/],
      [{ source: 'github://owner/repo' }, 400, /invalid plugin source/],
      [{ source: 'hello-skill@../1' }, 400, /invalid plugin source/],
      [{ source: '' }, 400, /./],
      [{}, 400, /./],
      [{ source: 'hello-skill', extra: 1 }, 400, /./],
      [{ source: 'no-such-plugin' }, 404, /plugin not found/],
      [{ source: 'hello-skill@9.9.9' }, 404, /no version "9.9.9"/],
    ];
    for (const [body, status, error] of cases) {
      const res = await inject('POST', `/workspaces/${ws.id}/plugins`, body);
      assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.json().error, error, JSON.stringify(body));
    }
    for (const name of ['a..b', 'UPPER', 'a%2Fb', 'a%5Cb']) {
      const res = await inject('DELETE', `/workspaces/${ws.id}/plugins/${name}`);
      assert.equal(res.statusCode, 400, `${name}: ${res.body}`);
      assert.equal(res.json().error, 'invalid plugin name');
    }
    // An encoded `..` is resolved by the URL parser before routing: it names no plugin route at all.
    assert.equal((await inject('DELETE', `/workspaces/${ws.id}/plugins/%2e%2e`)).statusCode, 404);
    const unknownWs = await inject('POST', '/workspaces/8f8e2c7e-1d1b-4c8e-9f35-0a6b2b3c4d5e/plugins', { source: 'hello-skill' });
    assert.equal(unknownWs.statusCode, 404);
    assert.deepEqual(await pluginRowCounts(t), before, 'nothing written');
  });

  it('roles: reader lists, editor installs, only admin writes the allowlist; a workspace token reaches only its own workspace', async () => {
    const ws = await t.createWorkspace({ name: 'roles-a' });
    const other = await t.createWorkspace({ name: 'roles-b' });
    const reader = await t.mintKey({ name: 'p-reader', role: 'reader' });
    const editor = await t.mintKey({ name: 'p-editor', role: 'editor' });
    const admin = await t.mintKey({ name: 'p-admin', role: 'admin' });
    assert.equal((await inject('GET', '/plugins', undefined, t.as(reader.auth_token))).statusCode, 200);
    assert.equal((await inject('GET', `/workspaces/${ws.id}/plugins`, undefined, t.as(reader.auth_token))).statusCode, 200);
    assert.equal((await inject('GET', allowlistUrl(), undefined, t.as(reader.auth_token))).statusCode, 200);
    const readerInstall = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'hello-skill' }, t.as(reader.auth_token));
    assert.equal(readerInstall.statusCode, 403, readerInstall.body);
    const editorInstall = await inject('POST', `/workspaces/${ws.id}/plugins`, { source: 'hello-skill' }, t.as(editor.auth_token));
    assert.equal(editorInstall.statusCode, 200, editorInstall.body);
    assert.equal(((await inject('GET', `/workspaces/${ws.id}/plugins`)).json() as Array<{ installed_by: string }>)[0]!.installed_by, `org-token:${editor.prefix}`);
    const editorPut = await inject('PUT', allowlistUrl(), { plugins: ['x'], enabled_by: 'e' }, t.as(editor.auth_token));
    assert.equal(editorPut.statusCode, 403, editorPut.body);
    assert.equal((await pluginRowCounts(t)).allowlist, 0);
    const adminPut = await inject('PUT', allowlistUrl(), { plugins: [], enabled_by: 'a' }, t.as(admin.auth_token));
    assert.equal(adminPut.statusCode, 200, adminPut.body);
    const cross = await inject('POST', `/workspaces/${other.id}/plugins`, { source: 'hello-skill' }, t.as(ws.auth_token));
    assert.ok([401, 404].includes(cross.statusCode), `another workspace's token: ${cross.statusCode} ${cross.body}`);
    assert.equal((await inject('PUT', allowlistUrl(), { plugins: [], enabled_by: 'w' }, t.as(ws.auth_token))).statusCode >= 400, true);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// On real processes (the "done when")
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('plugins on real processes', (kind) => {
  let t: TestTenant;
  let agentHome: string;
  before(async () => {
    agentHome = mkdtempSync(path.join(tmpdir(), 'molecule-plugin-agents-'));
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', PROVISION_TIMEOUT_SECONDS: '30', AGENT_HOME_DIR: agentHome },
    });
  });
  after(async () => {
    await t.close();
    rmSync(agentHome, { recursive: true, force: true });
  });

  interface Ws {
    status: string;
    process?: { running: boolean; pid: number } | null;
  }
  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  const online = (id: string, notPid?: number) =>
    waitFor(`${id} online`, async () => {
      const w = (await t.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: t.admin() })).json() as Ws;
      return w.status === 'online' && w.process?.running && w.process.pid !== notPid ? w : undefined;
    });

  it('a plugin outside the allowlist is refused and one inside installs into a running workspace (files materialised on restart)', async () => {
    const ws = await t.createWorkspace({ name: 'plugged', template: 'node-agent' });
    const first = await online(ws.id);
    const put = await t.app.inject({ method: 'PUT', url: `/orgs/${t.orgId}/plugins/allowlist`, headers: t.admin(), payload: { plugins: ['hello-skill'], enabled_by: 'ops' } });
    assert.equal(put.statusCode, 200, put.body);
    const refused = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/plugins`, headers: t.admin(), payload: { source: 'local://shell-tools', restart: true } });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().error, 'plugin "shell-tools" is not in the org allowlist');
    const res = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/plugins`, headers: t.admin(), payload: { source: 'local://hello-skill', restart: true } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().restarting, true);
    const second = await online(ws.id, first.process!.pid);
    assert.notEqual(second.process!.pid, first.process!.pid, 'restarted');
    const skill = path.join(agentHome, ws.id, 'plugins', 'hello-skill', 'skills', 'hello', 'SKILL.md');
    await waitFor('the plugin’s skill file in the workspace', async () => (existsSync(skill) ? true : undefined));
    assert.deepEqual(readFileSync(skill), readFileSync(new URL('../../assets/plugins/hello-skill/skills/hello/SKILL.md', import.meta.url)));
    assert.ok(existsSync(path.join(agentHome, ws.id, 'agent.js')), 'the template’s files are still there');
    assert.ok(!existsSync(path.join(agentHome, ws.id, 'plugins', 'shell-tools')), 'the refused plugin never arrived');
    // Uninstall with a restart: the files leave the directory.
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/plugins/hello-skill?restart=true`, headers: t.admin() });
    assert.equal(del.statusCode, 200, del.body);
    await online(ws.id, second.process!.pid);
    await waitFor('the plugin’s files gone', async () => (existsSync(skill) ? undefined : true));
  });
});
