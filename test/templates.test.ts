/**
 * Workspace templates (issue 10 item 1): the built-ins, MOLECULE_TEMPLATES_DIR (config.yaml, and legacy template.json
 * migrated), import / replace / delete / switch / refresh with the reference's wire shapes (spec §3.12), every
 * refusal validated before anything is written, roles and audit; and on real processes: a workspace created from
 * a template gets its files materialised into its own directory — never through a planted symlink — and runs the
 * template's command.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

interface Item {
  id: string;
  name: string;
  description: string;
  tier: number;
  runtime: string;
  model: string;
  skills: string[];
  skill_count: number;
  required_env?: unknown[];
  [k: string]: unknown;
}

function makeTemplatesDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-templates-test-'));
  mkdirSync(path.join(dir, 'legacy-sleeper'));
  writeFileSync(path.join(dir, 'legacy-sleeper', 'template.json'), JSON.stringify({ command: 'sleep 100000' }));
  mkdirSync(path.join(dir, 'from-dir', 'skills', 'search'), { recursive: true });
  writeFileSync(
    path.join(dir, 'from-dir', 'config.yaml'),
    'name: From dir\ndescription: loaded from MOLECULE_TEMPLATES_DIR\ntier: 2\nruntime: claude-code\nruntime_config:\n  model: anthropic:claude-sonnet\nskills: [search]\nrequired_env: [OPENAI_API_KEY, {any_of: [A_KEY, B_KEY]}]\ncommand: sleep 100000\n',
  );
  writeFileSync(path.join(dir, 'from-dir', 'skills', 'search', 'SKILL.md'), '# search\n');
  return dir;
}

async function counts(t: TestTenant): Promise<{ templates: number; files: number; workspaces: number }> {
  const one = async (table: 'templates' | 'template_files' | 'workspaces') =>
    Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  return { templates: await one('templates'), files: await one('template_files'), workspaces: await one('workspaces') };
}

forEachDatabase('workspace templates: API', (kind) => {
  let t: TestTenant;
  let dir: string;
  before(async () => {
    dir = makeTemplatesDir();
    t = await startTestTenant(kind, { env: { MOLECULE_TEMPLATES_DIR: dir } });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const inject = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers = t.admin()) =>
    t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

  it('lists the built-ins in the reference item shape, and the directory templates (config.yaml and migrated template.json)', async () => {
    const res = await inject('GET', '/templates');
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json() as Item[];
    const ids = items.map((i) => i.id);
    for (const id of ['shell-agent', 'node-agent', 'failing-agent', 'from-dir', 'legacy-sleeper']) assert.ok(ids.includes(id), `${id} listed: ${ids.join(', ')}`);
    const shell = items.find((i) => i.id === 'shell-agent')!;
    assert.deepEqual(Object.keys(shell).sort(), ['description', 'id', 'model', 'name', 'runtime', 'skill_count', 'skills', 'tier']);
    assert.equal(shell.name, 'Shell agent');
    assert.equal(shell.tier, 3);
    const fromDir = items.find((i) => i.id === 'from-dir')!;
    assert.deepEqual(fromDir, {
      id: 'from-dir',
      name: 'From dir',
      description: 'loaded from MOLECULE_TEMPLATES_DIR',
      tier: 2,
      runtime: 'claude-code',
      model: 'anthropic:claude-sonnet',
      required_env: ['OPENAI_API_KEY', { any_of: ['A_KEY', 'B_KEY'] }],
      skills: ['search'],
      skill_count: 1,
    });
    const legacy = await inject('GET', '/templates/legacy-sleeper?content=true');
    assert.equal(legacy.statusCode, 200, legacy.body);
    const body = legacy.json() as { command: string; source: string; files: Array<{ path: string; content?: string }> };
    assert.equal(body.command, 'sleep 100000');
    assert.equal(body.source, 'dir');
    assert.deepEqual(body.files.map((f) => f.path), ['config.yaml'], 'template.json moved into config.yaml');
    assert.match(body.files[0]!.content!, /^command: "sleep 100000"$/m);
  });

  it('imports a template (201 in the reference shape), lists it and shows its files; config.yaml is generated as the reference does', async () => {
    const res = await inject('POST', '/templates/import', {
      name: 'My Agent!',
      files: { 'system-prompt.md': 'Be brief.\n', 'notes.md': 'n', 'skills/web/SKILL.md': '# web\n', 'skills/web/tool.py': 'print(1)\n' },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json(), { status: 'imported', id: 'my-agent', name: 'My Agent!' });
    const list = (await inject('GET', '/templates')).json() as Item[];
    const item = list.find((i) => i.id === 'my-agent');
    assert.deepEqual(item, {
      id: 'my-agent',
      name: 'My Agent!',
      description: 'Imported agent',
      tier: 3,
      runtime: '',
      model: 'anthropic:claude-haiku-4-5-20251001',
      required_env: ['ANTHROPIC_API_KEY'],
      skills: ['web'],
      skill_count: 1,
    });
    const got = await inject('GET', '/templates/my-agent');
    assert.equal(got.statusCode, 200, got.body);
    const detail = got.json() as { version: number; source: string; prompt_files: string[]; files: Array<{ path: string; size: number; sha256: string; content?: string }> };
    assert.equal(detail.version, 1);
    assert.equal(detail.source, 'api');
    assert.deepEqual(detail.prompt_files, ['notes.md', 'system-prompt.md']);
    assert.deepEqual(detail.files.map((f) => f.path), ['config.yaml', 'notes.md', 'skills/web/SKILL.md', 'skills/web/tool.py', 'system-prompt.md']);
    const prompt = detail.files.find((f) => f.path === 'system-prompt.md')!;
    assert.equal(prompt.size, 10);
    assert.match(prompt.sha256, /^[0-9a-f]{64}$/);
    assert.equal(prompt.content, undefined, 'no contents unless asked');
    const withContent = (await inject('GET', '/templates/my-agent?content=true')).json() as typeof detail;
    assert.equal(withContent.files.find((f) => f.path === 'system-prompt.md')!.content, 'Be brief.\n');
    assert.equal((await inject('GET', '/templates/nope')).statusCode, 404);
    assert.equal((await inject('GET', '/templates/Bad..Id')).statusCode, 400);
  });

  it('normalises names exactly like the reference', async () => {
    const res = await inject('POST', '/templates/import', { name: 'Ünïcode  Über..Name_9', files: { 'a.md': 'x' } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().id, 'ncode--bername_9');
    const empty = await inject('POST', '/templates/import', { name: '!!!', files: { 'a.md': 'x' } });
    assert.equal(empty.statusCode, 201, empty.body);
    assert.equal(empty.json().id, 'unnamed');
  });

  it('refuses a duplicate with 409 naming the id, and two simultaneous imports of one name give exactly one 201', async () => {
    const dup = await inject('POST', '/templates/import', { name: 'my agent', files: { 'a.md': 'x' } });
    assert.equal(dup.statusCode, 409, dup.body);
    assert.equal(dup.json().error, 'template already exists');
    assert.equal(dup.json().id, 'my-agent');
    const racers = await Promise.all([0, 1, 2, 3].map((i) => inject('POST', '/templates/import', { name: 'race-agent', files: { 'a.md': `racer ${i}` } })));
    assert.deepEqual(racers.map((r) => r.statusCode).sort(), [201, 409, 409, 409]);
    const files = (await inject('GET', '/templates/race-agent')).json().files as unknown[];
    assert.equal(files.length, 2, 'one racer’s files (a.md and config.yaml), nothing mixed in');
  });

  it('refuses every bad path with 400 naming it, and writes nothing', async () => {
    const before = await counts(t);
    const cases: Array<[string, RegExp]> = [
      ['/etc/passwd', /absolute/],
      ['../escape.md', /\.\./],
      ['a/../../b', /\.\./],
      ['a\\b.md', /backslash/],
      ['a\u0001b', /control/],
      ['', /empty/],
      ['.', /normalised/],
      ['a/./b', /normalised/],
      ['a//b', /normalised/],
      ['dir/', /normalised/],
      ['C:evil', /absolute/],
      [`${'d/'.repeat(20)}f`, /deeper/],
      ['x'.repeat(300), /segment longer|longer than/],
    ];
    for (const [bad, why] of cases) {
      const res = await inject('POST', '/templates/import', { name: `bad-${Math.random()}`, files: { 'ok.md': 'fine', [bad]: 'x' } });
      assert.equal(res.statusCode, 400, `${JSON.stringify(bad)}: ${res.body}`);
      // The reference's wire message; `detail` and `path` name the problem.
      assert.equal(res.json().error, 'invalid request body');
      assert.match(res.json().detail, why, JSON.stringify(bad));
      assert.equal(res.json().path, bad);
    }
    // A NUL in a path is refused by the schema before the service sees it.
    const nul = await inject('POST', '/templates/import', { name: 'nul-path', files: { 'a\u0000b': 'x' } });
    assert.equal(nul.statusCode, 400, nul.body);
    // A path that is also another path's directory.
    const clash = await inject('POST', '/templates/import', { name: 'clash', files: { a: 'x', 'a/b': 'y' } });
    assert.equal(clash.statusCode, 400, clash.body);
    assert.match(clash.json().detail, /also a file/);
    // A missing field: the reference's message.
    const missing = await inject('POST', '/templates/import', { name: 'no-files' });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error, 'invalid request body');
    assert.deepEqual(await counts(t), before, 'no template or file row was written');
  });

  it('refuses more than 200 files with the reference message, files over 1 MiB or templates over 10 MiB with 413 — nothing written', async () => {
    const before = await counts(t);
    const many: Record<string, string> = {};
    for (let i = 0; i < 201; i++) many[`f${i}.md`] = 'x';
    const tooMany = await inject('POST', '/templates/import', { name: 'too-many', files: many });
    assert.equal(tooMany.statusCode, 400, tooMany.body);
    assert.equal(tooMany.json().error, 'too many files (201), max 200');
    const bigFile = await inject('POST', '/templates/import', { name: 'big-file', files: { 'ok.md': 'x', 'huge.txt': 'a'.repeat(1024 * 1024 + 1) } });
    assert.equal(bigFile.statusCode, 413, bigFile.body.slice(0, 300));
    assert.match(bigFile.json().error, /huge\.txt/);
    const parts: Record<string, string> = {};
    for (let i = 0; i < 11; i++) parts[`part${i}.txt`] = 'b'.repeat(1024 * 1024 - 10);
    const bigTotal = await inject('POST', '/templates/import', { name: 'big-total', files: parts });
    assert.equal(bigTotal.statusCode, 413, bigTotal.body.slice(0, 300));
    assert.match(bigTotal.json().error, /too large/);
    // At the limits exactly: 200 files is fine.
    const at: Record<string, string> = {};
    for (let i = 0; i < 200; i++) at[`f${i}.md`] = 'x';
    const ok = await inject('POST', '/templates/import', { name: 'two-hundred', files: at });
    assert.equal(ok.statusCode, 201, ok.body);
    const after = await counts(t);
    assert.equal(after.templates, before.templates + 1);
    assert.equal(after.files, before.files + 201, '200 files and the generated config.yaml');
  });

  it('refuses binary contents (NUL, unpaired surrogates) and an invalid config.yaml, naming them — nothing written', async () => {
    const before = await counts(t);
    const binary = await inject('POST', '/templates/import', { name: 'binary', files: { 'ok.md': 'x', 'blob.bin': 'PK\u0003\u0004\u0000\u0000' } });
    assert.equal(binary.statusCode, 400, binary.body);
    assert.match(JSON.stringify(binary.json()), /blob\.bin/);
    const surrogate = await t.app.inject({
      method: 'POST',
      url: '/templates/import',
      headers: { ...t.admin(), 'content-type': 'application/json' },
      payload: '{"name":"surrogate","files":{"s.txt":"\\ud800"}}',
    });
    assert.equal(surrogate.statusCode, 400, surrogate.body);
    for (const [yaml, why] of [
      ['name: [unclosed', /config\.yaml is not valid YAML/],
      ['- a\n- b\n', /config\.yaml must be a YAML mapping/],
      ['name: x\ncommand: [1, 2]\n', /command must be a string/],
      ['a: &a [1]\nb: *a\nb: 2\n', /config\.yaml/],
      ['tier: high\n', /tier/],
    ] as const) {
      const res = await inject('POST', '/templates/import', { name: `bad-config-${Math.random()}`, files: { 'config.yaml': yaml } });
      assert.equal(res.statusCode, 400, `${yaml}: ${res.body}`);
      assert.match(res.json().error, why);
    }
    assert.deepEqual(await counts(t), before);
  });

  it('PUT makes a new version (keeping only the current and the previous), 404 for an unknown id; every write is audited', async () => {
    const created = await inject('POST', '/templates/import', { name: 'versioned', files: { 'config.yaml': 'name: V\ncommand: echo v1\n' } });
    assert.equal(created.statusCode, 201, created.body);
    for (const v of [2, 3]) {
      const res = await inject('PUT', '/templates/versioned', { name: 'versioned', files: { 'config.yaml': `name: V\ncommand: echo v${v}\n` } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { status: 'updated', id: 'versioned', name: 'versioned', version: v });
    }
    const got = (await inject('GET', '/templates/versioned')).json() as { version: number; command: string };
    assert.equal(got.version, 3);
    assert.equal(got.command, 'echo v3');
    const versions = await t.db.selectFrom('template_files').select('version').distinct().where('template_id', '=', 'versioned').orderBy('version').execute();
    assert.deepEqual(versions.map((v) => v.version), [2, 3]);
    const missing = await inject('PUT', '/templates/nope', { name: 'nope', files: { 'a.md': 'x' } });
    assert.equal(missing.statusCode, 404, missing.body);
    const bad = await inject('PUT', '/templates/versioned', { name: 'versioned', files: { '../x': 'x' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(((await inject('GET', '/templates/versioned')).json() as { version: number }).version, 3, 'a refused PUT leaves the version');
    const audited = await t.db.selectFrom('audit_events').select(['method', 'route', 'status']).where('route', 'in', ['/templates/import', '/templates/:id']).execute();
    assert.ok(audited.some((a) => a.method === 'PUT' && a.status === 200));
    assert.ok(audited.some((a) => a.method === 'POST' && a.status === 201));
  });

  it('POST /workspaces with an unknown template is 400 naming it, with nothing written; a known one is kept', async () => {
    const before = await counts(t);
    const res = await inject('POST', '/workspaces', { name: 'from-nowhere', template: 'does-not-exist' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().field, 'template');
    assert.match(res.json().error, /does-not-exist/);
    assert.deepEqual(await counts(t), before);
    const ws = await t.createWorkspace({ template: 'node-agent' });
    const got = (await inject('GET', `/workspaces/${ws.id}`)).json() as { template: string };
    assert.equal(got.template, 'node-agent');
    const patched = await inject('PATCH', `/workspaces/${ws.id}`, { template: 'nope-nope' });
    assert.equal(patched.statusCode, 400, patched.body);
    // Runtime and model come from the template's config.yaml when the request leaves them empty (reference §3.1).
    const filled = await inject('POST', '/workspaces', { name: 'filled-from-template', template: 'from-dir' });
    assert.equal(filled.statusCode, 201, filled.body);
    assert.deepEqual([filled.json().runtime, filled.json().model], ['claude-code', 'anthropic:claude-sonnet']);
    const given = await inject('POST', '/workspaces', { name: 'given-explicitly', template: 'from-dir', runtime: 'hermes', model: 'm' });
    assert.deepEqual([given.json().runtime, given.json().model], ['hermes', 'm']);
  });

  it('DELETE: 404 unknown, 409 for a built-in and while a live workspace uses it (naming it), 200 once it is removed', async () => {
    assert.equal((await inject('DELETE', '/templates/nope')).statusCode, 404);
    const builtin = await inject('DELETE', '/templates/shell-agent');
    assert.equal(builtin.statusCode, 409, builtin.body);
    assert.equal((await inject('POST', '/templates/import', { name: 'doomed', files: { 'a.md': 'x' } })).statusCode, 201);
    const ws = await t.createWorkspace({ name: 'user-of-doomed', template: 'doomed' });
    const inUse = await inject('DELETE', '/templates/doomed');
    assert.equal(inUse.statusCode, 409, inUse.body);
    assert.deepEqual(inUse.json().workspaces, [{ id: ws.id, name: 'user-of-doomed' }]);
    assert.equal((await inject('DELETE', `/workspaces/${ws.id}`)).statusCode, 200);
    const gone = await inject('DELETE', '/templates/doomed');
    assert.equal(gone.statusCode, 200, gone.body);
    assert.deepEqual(gone.json(), { status: 'deleted', id: 'doomed' });
    assert.equal((await inject('GET', '/templates/doomed')).statusCode, 404);
    const left = await t.db.selectFrom('template_files').select('path').where('template_id', '=', 'doomed').execute();
    assert.deepEqual(left, [], 'its files went with it');
  });

  it('PATCH /workspaces/:id/template switches it; an unknown template is 400 naming it; a key bound elsewhere gets 404', async () => {
    const ws = await t.createWorkspace({ template: 'shell-agent' });
    const unknown = await inject('PATCH', `/workspaces/${ws.id}/template`, { template: 'not-there' });
    assert.equal(unknown.statusCode, 400, unknown.body);
    assert.match(unknown.json().error, /not-there/);
    const ok = await inject('PATCH', `/workspaces/${ws.id}/template`, { template: 'node-agent' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { status: 'updated', id: ws.id, template: 'node-agent', restarting: false });
    assert.equal(((await inject('GET', `/workspaces/${ws.id}`)).json() as { template: string }).template, 'node-agent');
    const other = await t.createWorkspace();
    const bound = await t.mintKey({ name: 'bound', role: 'admin', workspace_ids: [other.id] });
    const refused = await inject('PATCH', `/workspaces/${ws.id}/template`, { template: 'shell-agent' }, t.as(bound.auth_token));
    assert.equal(refused.statusCode, 404, refused.body);
    const missingWs = await inject('PATCH', '/workspaces/00000000-0000-4000-8000-000000000000/template', { template: 'shell-agent' });
    assert.equal(missingWs.statusCode, 404);
  });

  it('refresh loads a directory written after boot, migrates template.json, updates a changed one and names the bad ones', async () => {
    mkdirSync(path.join(dir, 'late'));
    writeFileSync(path.join(dir, 'late', 'config.yaml'), 'name: Late\ncommand: sleep 1\n');
    mkdirSync(path.join(dir, 'late-legacy'));
    writeFileSync(path.join(dir, 'late-legacy', 'template.json'), JSON.stringify({ command: 'sleep 2' }));
    mkdirSync(path.join(dir, 'broken'));
    writeFileSync(path.join(dir, 'broken', 'config.yaml'), '- not a mapping\n');
    mkdirSync(path.join(dir, 'empty'));
    mkdirSync(path.join(dir, 'Bad Name'));
    writeFileSync(path.join(dir, 'from-dir', 'extra.md'), 'new file\n');
    const res = await inject('POST', '/admin/templates/refresh');
    assert.equal(res.statusCode, 200, res.body);
    const report = res.json() as { status: string; loaded: string[]; updated: string[]; unchanged: string[]; skipped: Array<{ id: string; error: string }> };
    assert.equal(report.status, 'refreshed');
    assert.deepEqual(report.loaded.sort(), ['late', 'late-legacy']);
    assert.deepEqual(report.updated, ['from-dir']);
    assert.ok(report.unchanged.includes('shell-agent') && report.unchanged.includes('legacy-sleeper'));
    const skipped = Object.fromEntries(report.skipped.map((s) => [s.id, s.error]));
    assert.match(skipped['broken']!, /mapping/);
    assert.match(skipped['empty']!, /neither config\.yaml nor template\.json/);
    assert.match(skipped['Bad Name']!, /not a template id/);
    assert.equal(((await inject('GET', '/templates/late-legacy')).json() as { command: string }).command, 'sleep 2');
    assert.equal(((await inject('GET', '/templates/from-dir')).json() as { version: number }).version, 2);
    // Idempotent: a second refresh changes nothing.
    const again = (await inject('POST', '/admin/templates/refresh')).json() as { loaded: string[]; updated: string[] };
    assert.deepEqual([again.loaded, again.updated], [[], []]);
  });

  it('refreshes racing each other (replicas booting together) load a new directory exactly once', async () => {
    mkdirSync(path.join(dir, 'raced'));
    writeFileSync(path.join(dir, 'raced', 'config.yaml'), 'name: Raced\ncommand: sleep 3\n');
    writeFileSync(path.join(dir, 'late', 'config.yaml'), 'name: Late\ncommand: sleep 4\n');
    const reports = (await Promise.all([0, 1, 2].map(() => inject('POST', '/admin/templates/refresh')))).map((r) => {
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as { loaded: string[]; updated: string[] };
    });
    assert.equal(reports.filter((r) => r.loaded.includes('raced')).length, 1, 'one refresh loaded it');
    assert.equal(reports.filter((r) => r.updated.includes('late')).length, 1, 'one refresh made the new version');
    const late = (await inject('GET', '/templates/late')).json() as { version: number; command: string };
    assert.deepEqual([late.version, late.command], [2, 'sleep 4']);
    assert.equal(((await inject('GET', '/templates/raced')).json() as { version: number }).version, 1);
  });

  it('roles: a reader lists and reads; an editor creates workspaces from templates but cannot import (403); admin can', async () => {
    const reader = await t.mintKey({ name: 'reader', role: 'reader' });
    const editor = await t.mintKey({ name: 'editor', role: 'editor' });
    const admin = await t.mintKey({ name: 'admin', role: 'admin' });
    assert.equal((await inject('GET', '/templates', undefined, t.as(reader.auth_token))).statusCode, 200);
    assert.equal((await inject('GET', '/templates/shell-agent', undefined, t.as(reader.auth_token))).statusCode, 200);
    for (const key of [reader, editor]) {
      const res = await inject('POST', '/templates/import', { name: `by-${key.role}`, files: { 'a.md': 'x' } }, t.as(key.auth_token));
      assert.equal(res.statusCode, 403, res.body);
      assert.equal((await inject('POST', '/admin/templates/refresh', undefined, t.as(key.auth_token))).statusCode, 403);
      assert.equal((await inject('DELETE', '/templates/my-agent', undefined, t.as(key.auth_token))).statusCode, 403);
    }
    const created = await inject('POST', '/workspaces', { name: 'editor-made', template: 'shell-agent' }, t.as(editor.auth_token));
    assert.equal(created.statusCode, 201, created.body);
    const imported = await inject('POST', '/templates/import', { name: 'by-admin', files: { 'a.md': 'x' } }, t.as(admin.auth_token));
    assert.equal(imported.statusCode, 201, imported.body);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// On real processes
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('workspace templates on real processes', (kind) => {
  let t: TestTenant;
  let agentHome: string;
  let outside: string;
  before(async () => {
    agentHome = mkdtempSync(path.join(tmpdir(), 'molecule-template-agents-'));
    outside = mkdtempSync(path.join(tmpdir(), 'molecule-template-outside-'));
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', PROVISION_TIMEOUT_SECONDS: '30', AGENT_HOME_DIR: agentHome },
    });
  });
  after(async () => {
    await t.close();
    rmSync(agentHome, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  interface Ws {
    id: string;
    status: string;
    process?: { running: boolean; pid: number } | null;
  }
  const get = async (id: string) => (await t.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: t.admin() })).json() as Ws;
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
      const w = await get(id);
      return w.status === 'online' && w.process?.running && w.process.pid !== notPid ? w : undefined;
    });
  const logs = async (id: string) => ((await t.app.inject({ method: 'GET', url: `/workspaces/${id}/logs`, headers: t.admin() })).json() as { lines: string[] }).lines.join('\n');
  const home = (id: string) => path.join(agentHome, id);
  const restart = async (id: string) => {
    const res = await t.app.inject({ method: 'POST', url: `/workspaces/${id}/restart`, headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
  };

  it('a node-agent workspace gets agent.js in its own directory, owned by its agent, and its agent reaches the tenant', async () => {
    const ws = await t.createWorkspace({ name: 'node-demo', template: 'node-agent' });
    await online(ws.id);
    const shipped = readFileSync(new URL('../../assets/templates/node-agent/agent.js', import.meta.url));
    assert.deepEqual(readFileSync(path.join(home(ws.id), 'agent.js')), shipped);
    assert.ok(existsSync(path.join(home(ws.id), 'config.yaml')));
    const dirOwner = lstatSync(home(ws.id)).uid;
    assert.equal(lstatSync(path.join(home(ws.id), 'agent.js')).uid, dirOwner, 'the file belongs to the agent’s uid');
    if (process.getuid?.() === 0) assert.notEqual(dirOwner, 0, 'uid isolation: not root');
    await waitFor('the node agent’s API call', async () => ((await logs(ws.id)).includes('node-agent: reached the tenant as workspace "node-demo"') ? true : undefined));
  });

  it('a failing-agent workspace goes failed (crash loop)', async () => {
    const ws = await t.createWorkspace({ template: 'failing-agent' });
    const failed = await waitFor('failed', async () => {
      const w = (await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).json() as { status: string; last_error: string | null };
      return w.status === 'failed' ? w : undefined;
    }, 60_000);
    assert.match(failed.last_error ?? '', /crash loop/);
  });

  it('PUT: a running workspace keeps its files until it restarts, then gets the new version; a switch restarts it with the other template', async () => {
    const files = (v: string) => ({ 'config.yaml': 'name: Versioned\ncommand: sleep 100000\n', 'data/version.txt': v });
    assert.equal((await t.app.inject({ method: 'POST', url: '/templates/import', headers: t.admin(), payload: { name: 'live-versioned', files: files('v1') } })).statusCode, 201);
    const ws = await t.createWorkspace({ template: 'live-versioned' });
    const first = await online(ws.id);
    const versionFile = path.join(home(ws.id), 'data', 'version.txt');
    assert.equal(readFileSync(versionFile, 'utf8'), 'v1');
    const put = await t.app.inject({ method: 'PUT', url: '/templates/live-versioned', headers: t.admin(), payload: { name: 'live-versioned', files: files('v2') } });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(readFileSync(versionFile, 'utf8'), 'v1', 'the running workspace keeps its files');
    assert.equal((await get(ws.id)).process?.pid, first.process!.pid, 'and is not restarted');
    await restart(ws.id);
    const second = await online(ws.id, first.process!.pid);
    assert.equal(readFileSync(versionFile, 'utf8'), 'v2');
    const sw = await t.app.inject({ method: 'PATCH', url: `/workspaces/${ws.id}/template`, headers: t.admin(), payload: { template: 'node-agent' } });
    assert.equal(sw.statusCode, 200, sw.body);
    assert.equal(sw.json().restarting, true);
    await online(ws.id, second.process!.pid);
    await waitFor('agent.js of the new template', async () => (existsSync(path.join(home(ws.id), 'agent.js')) ? true : undefined));
  });

  it('materialisation never follows a symlink planted in the workspace directory', async () => {
    const files = { 'config.yaml': 'name: Links\ncommand: sleep 100000\n', 'agent.txt': 'mine', 'sub/inner.txt': 'inner' };
    assert.equal((await t.app.inject({ method: 'POST', url: '/templates/import', headers: t.admin(), payload: { name: 'symlink-target', files } })).statusCode, 201);
    const ws = await t.createWorkspace({ template: 'symlink-target' });
    const first = await online(ws.id);
    // What an agent could plant between two starts: its files and directories replaced by links pointing outside.
    const victimFile = path.join(outside, 'victim.txt');
    writeFileSync(victimFile, 'untouched');
    const victimDir = path.join(outside, 'victim-dir');
    mkdirSync(victimDir);
    rmSync(path.join(home(ws.id), 'agent.txt'));
    symlinkSync(victimFile, path.join(home(ws.id), 'agent.txt'));
    rmSync(path.join(home(ws.id), 'sub'), { recursive: true });
    symlinkSync(victimDir, path.join(home(ws.id), 'sub'));
    await restart(ws.id);
    await online(ws.id, first.process!.pid);
    assert.equal(readFileSync(victimFile, 'utf8'), 'untouched', 'the link’s target was not written');
    assert.deepEqual(readdirSync(victimDir), [], 'nothing was written through the directory link');
    assert.ok(lstatSync(path.join(home(ws.id), 'agent.txt')).isFile(), 'the link was replaced by a regular file');
    assert.equal(readFileSync(path.join(home(ws.id), 'agent.txt'), 'utf8'), 'mine');
    assert.ok(lstatSync(path.join(home(ws.id), 'sub')).isDirectory() && !lstatSync(path.join(home(ws.id), 'sub')).isSymbolicLink());
    assert.equal(readFileSync(path.join(home(ws.id), 'sub', 'inner.txt'), 'utf8'), 'inner');
  });

  it('a bundle carries its template’s files: a node-agent workspace exported and imported under a new name runs the same agent', async () => {
    const source = await t.createWorkspace({ name: 'bundle-source', template: 'node-agent' });
    await online(source.id);
    const exported = await t.app.inject({ method: 'GET', url: `/bundles/export/${source.id}`, headers: t.admin() });
    assert.equal(exported.statusCode, 200, exported.body);
    const bundle = exported.json() as { name: string; system_prompt: string; prompts: Record<string, string> };
    const shipped = (file: string) => readFileSync(new URL(`../../assets/templates/node-agent/${file}`, import.meta.url), 'utf8');
    assert.equal(bundle.prompts['agent.js'], shipped('agent.js'));
    assert.equal(bundle.prompts['config.yaml'], shipped('config.yaml'));
    assert.equal(bundle.system_prompt, shipped('system-prompt.md'));
    // The bundle names an agent command (config.yaml): an editor may not bring one, an admin may.
    const editor = await t.mintKey({ name: 'bundle-editor', role: 'editor' });
    const refused = await t.app.inject({ method: 'POST', url: '/bundles/import', headers: t.as(editor.auth_token), payload: { ...bundle, name: 'bundle-copy' } });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().field, 'prompts["config.yaml"]');
    const imported = await t.app.inject({ method: 'POST', url: '/bundles/import', headers: t.admin(), payload: { ...bundle, name: 'bundle-copy' } });
    assert.equal(imported.statusCode, 201, imported.body);
    const copy = imported.json() as { workspace_id: string };
    await online(copy.workspace_id);
    assert.equal(readFileSync(path.join(home(copy.workspace_id), 'agent.js'), 'utf8'), shipped('agent.js'), 'the bundle’s own files were materialised');
    await waitFor('the copied agent’s API call', async () => ((await logs(copy.workspace_id)).includes('node-agent: reached the tenant as workspace "bundle-copy"') ? true : undefined));
  });
});

describe('template path rules (unit)', () => {
  it('accepts ordinary relative paths', async () => {
    const { templatePathProblem } = await import('../src/core/templates/config.js');
    for (const ok of ['config.yaml', 'skills/web/SKILL.md', 'a b/ü.md', '.hidden']) assert.equal(templatePathProblem(ok), null, ok);
  });
});
