/**
 * Org import installs the plugins a template declares (`defaults.plugins ∪ node.plugins`) into each workspace it
 * creates, in its one transaction: the catalog and the org allowlist decide, and what they refuse is skipped and
 * reported per workspace (never a failure of the import); the allowlist unreadable fails CLOSED (503, nothing
 * written); the dry run shows the same; export → import round-trips installed plugins; and on a real runtime the
 * files are in the workspace's directory at its first start.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { checksummer } from './support/fuzz/runner.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const CHANNEL_OUTBOX = new Set(['channel_event_cursor', 'channel_deliveries', 'channel_delivery_attempts']);
const CHECKSUM = { excludeTables: (t: string) => t.startsWith('audit_') || CHANNEL_OUTBOX.has(t), excludeColumns: new Set(['last_used_at']) };

const pluginsDir = mkdtempSync(path.join(tmpdir(), 'molecule-org-plugins-'));
mkdirSync(path.join(pluginsDir, 'needs-env'));
writeFileSync(path.join(pluginsDir, 'needs-env', 'plugin.yaml'), 'name: needs-env\nversion: 2.1.0\nrequired_env: [ORG_PLUGIN_KEY]\n');
after(() => rmSync(pluginsDir, { recursive: true, force: true }));

const TEMPLATE = {
  name: 'Plugged',
  defaults: { plugins: ['hello-skill'] },
  workspaces: [
    {
      name: 'Lead',
      // Not shipped (a reference template's name), outside the allowlist, needing a secret, and the default again.
      plugins: ['ecc', 'shell-tools', 'needs-env', 'local://hello-skill'],
      children: [{ name: 'Worker' }],
    },
  ],
};

interface Skip {
  name: string;
  reason: string;
  missing_env?: string[];
}
interface Imported {
  workspaces: Array<{ id: string; name: string; path: string; skipped?: true; plugins_installed?: string[]; plugins_skipped?: Skip[] }>;
}

const LEAD_SKIPS: Skip[] = [
  { name: 'ecc', reason: 'not in the catalog' },
  { name: 'shell-tools', reason: 'not in the org allowlist' },
  { name: 'needs-env', reason: 'missing required environment', missing_env: ['ORG_PLUGIN_KEY'] },
];

forEachDatabase('org import installs declared plugins', (kind) => {
  const tenants: TestTenant[] = [];
  async function fresh(): Promise<TestTenant> {
    const t = await startTestTenant(kind, { env: { MOLECULE_PLUGINS_DIR: pluginsDir } });
    tenants.push(t);
    return t;
  }
  after(async () => {
    for (const t of tenants) await t.close();
  });
  const post = (t: TestTenant, payload: unknown, query = '') => t.app.inject({ method: 'POST', url: `/org/import${query}`, headers: t.admin(), payload: payload as object });
  const allow = async (t: TestTenant, plugins: string[]) => {
    const res = await t.app.inject({ method: 'PUT', url: `/orgs/${t.orgId}/plugins/allowlist`, headers: t.admin(), payload: { plugins, enabled_by: 'ops' } });
    assert.equal(res.statusCode, 200, res.body);
  };
  const installed = async (t: TestTenant) =>
    (await t.db.selectFrom('workspace_plugins').innerJoin('workspaces', 'workspaces.id', 'workspace_plugins.workspace_id').select(['workspaces.name as ws', 'workspace_plugins.name', 'source']).orderBy('workspaces.name').orderBy('workspace_plugins.name').execute()).map(
      (r) => `${r.ws}:${r.name}:${r.source}`,
    );

  let t: TestTenant;
  let checksum: () => Promise<Record<string, string>>;
  before(async () => {
    t = await fresh();
    await allow(t, ['hello-skill', 'needs-env']);
    checksum = await checksummer(t.db as unknown as Kysely<never>, CHECKSUM);
  });

  it('dry run: each workspace to create shows what would be installed and what skipped, and nothing is written', async () => {
    const before = await checksum();
    const res = await post(t, { template: TEMPLATE }, '?dry_run=true');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().plan, [
      { action: 'create', name: 'Lead', path: 'Lead', plugins: ['hello-skill'], plugins_skipped: LEAD_SKIPS },
      { action: 'create', name: 'Worker', path: 'Lead/Worker', plugins: ['hello-skill'] },
    ]);
    assert.deepEqual(await checksum(), before);
  });

  it('installs the permitted catalog plugins in the transaction; skips and reports the rest; audited and evented like an install', async () => {
    const res = await post(t, { template: TEMPLATE });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as Imported;
    const [lead, worker] = body.workspaces;
    assert.deepEqual(lead!.plugins_installed, ['hello-skill']);
    assert.deepEqual(lead!.plugins_skipped, LEAD_SKIPS);
    assert.deepEqual(worker!.plugins_installed, ['hello-skill']);
    assert.equal(worker!.plugins_skipped, undefined);
    assert.deepEqual(await installed(t), ['Lead:hello-skill:local://hello-skill', 'Worker:hello-skill:local://hello-skill']);
    const files = await t.db.selectFrom('workspace_plugin_files').select(['workspace_id', 'path']).where('workspace_id', '=', lead!.id).orderBy('path').execute();
    assert.ok(files.some((f) => f.path === 'skills/hello/SKILL.md'), JSON.stringify(files));
    // The same records an install through POST /workspaces/:id/plugins writes: its audit row and PLUGIN_INSTALLED.
    for (const w of [lead!, worker!]) {
      const audit = await t.db.selectFrom('audit_events').select(['method', 'status']).where('path', '=', `/workspaces/${w.id}/plugins`).execute();
      assert.deepEqual(audit, [{ method: 'POST', status: 200 }]);
      const events = await t.db.selectFrom('workspace_events').select('payload').where('event_type', '=', 'PLUGIN_INSTALLED').where('workspace_id', '=', w.id).execute();
      assert.equal(events.length, 1);
      assert.equal(events[0]!.payload['plugin'], 'hello-skill');
    }
    // The declared plugins stay recorded in the config, as before.
    const row = await t.db.selectFrom('workspaces').select('config').where('id', '=', lead!.id).executeTakeFirstOrThrow();
    assert.deepEqual((row.config as Record<string, unknown>)['plugins'], ['hello-skill', 'ecc', 'shell-tools', 'needs-env', 'local://hello-skill']);
  });

  it('re-import: existing workspaces are skipped and keep their plugins as they are', async () => {
    await allow(t, []); // shell-tools is now permitted, but Lead exists: nothing is installed into it.
    const before = await installed(t);
    const res = await post(t, { template: TEMPLATE });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as Imported;
    assert.ok(body.workspaces.every((w) => w.skipped === true && w.plugins_installed === undefined && w.plugins_skipped === undefined), res.body);
    assert.deepEqual(await installed(t), before);
  });

  it('fails closed: the allowlist unreadable → 503 for the import and its dry run, nothing written', async () => {
    const before = await checksum();
    const template = { ...TEMPLATE, workspaces: [{ name: 'Outage', plugins: ['shell-tools'] }] };
    await sql`alter table org_plugin_allowlist rename to org_plugin_allowlist_away`.execute(t.db);
    let dry, real;
    try {
      dry = await post(t, { template }, '?dry_run=true');
      real = await post(t, { template });
    } finally {
      await sql`alter table org_plugin_allowlist_away rename to org_plugin_allowlist`.execute(t.db);
    }
    for (const res of [dry, real]) {
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'platform_unavailable');
    }
    assert.deepEqual(await checksum(), before);
    // Readable again: the same import goes through.
    const ok = await post(t, { template });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.deepEqual((ok.json() as Imported).workspaces.find((w) => w.name === 'Outage')!.plugins_installed, ['hello-skill', 'shell-tools']);
  });

  it('round trip: a plugin installed through the API is exported and installed again by importing the export', async () => {
    const src = await fresh();
    assert.equal((await post(src, { template: { name: 'RT', workspaces: [{ name: 'A', plugins: ['hello-skill'] }, { name: 'B' }] } })).statusCode, 201);
    const b = await src.db.selectFrom('workspaces').select('id').where('name', '=', 'B').executeTakeFirstOrThrow();
    const inst = await src.app.inject({ method: 'POST', url: `/workspaces/${b.id}/plugins`, headers: src.admin(), payload: { source: 'local://shell-tools' } });
    assert.equal(inst.statusCode, 200, inst.body);
    const exported = await src.app.inject({ method: 'GET', url: '/org/export', headers: src.admin() });
    assert.equal(exported.statusCode, 200, exported.body);
    const doc = parseYaml(exported.body) as { workspaces: Array<{ name: string; plugins?: string[] }> };
    assert.deepEqual(
      doc.workspaces.map((w) => [w.name, w.plugins]),
      [
        ['A', ['hello-skill']],
        ['B', ['shell-tools']],
      ],
    );
    const dst = await fresh();
    const imported = await dst.app.inject({ method: 'POST', url: '/org/import', headers: { ...dst.admin(), 'content-type': 'application/yaml' }, payload: exported.body });
    assert.equal(imported.statusCode, 201, imported.body);
    assert.deepEqual(await installed(dst), await installed(src));
    const again = await dst.app.inject({ method: 'GET', url: '/org/export', headers: dst.admin() });
    assert.equal(again.body.replace(/^name: .*\n/, ''), exported.body.replace(/^name: .*\n/, ''));
  });
});

forEachDatabase('org import plugins on a real runtime', (kind) => {
  let t: TestTenant;
  let agentHome: string;
  before(async () => {
    agentHome = mkdtempSync(path.join(tmpdir(), 'molecule-org-plugin-agents-'));
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', PROVISION_TIMEOUT_SECONDS: '60', AGENT_HOME_DIR: agentHome },
    });
  });
  after(async () => {
    await t?.close();
    rmSync(agentHome, { recursive: true, force: true });
  });

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('the installed plugin’s files are in the workspace’s directory when its runtime first starts', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/org/import',
      headers: t.admin(),
      payload: { template: { name: 'Live', workspaces: [{ name: 'Runner', template: 'node-agent', plugins: ['hello-skill', 'not-shipped'] }] } },
    });
    assert.equal(res.statusCode, 201, res.body);
    const ws = (res.json() as Imported).workspaces[0]!;
    assert.deepEqual(ws.plugins_installed, ['hello-skill']);
    await waitFor('the workspace online', async () => {
      const w = (await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).json() as { status: string; process?: { running: boolean } | null };
      assert.notEqual(w.status, 'failed');
      return w.status === 'online' && w.process?.running ? w : undefined;
    });
    const skill = path.join(agentHome, ws.id, 'plugins', 'hello-skill', 'skills', 'hello', 'SKILL.md');
    await waitFor('the plugin’s skill file in the workspace', async () => (existsSync(skill) ? true : undefined));
    assert.deepEqual(readFileSync(skill), readFileSync(new URL('../../assets/plugins/hello-skill/skills/hello/SKILL.md', import.meta.url)));
    assert.ok(existsSync(path.join(agentHome, ws.id, 'agent.js')), 'the template’s files are there too');
    assert.ok(!existsSync(path.join(agentHome, ws.id, 'plugins', 'not-shipped')));
  });
});
