/**
 * Org templates, import and export (issue 10 item 2; reference §3.11): over HTTP against a real tenant on both
 * databases. Records-only tenants (WORKSPACE_PROVISIONER=none) for the semantics, and one tenant with the real local
 * provisioner whose imported workspaces must come online as real processes.
 *
 * "Nothing written" is checked with a checksum of every table (audit tables aside: a refused request is audited).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { checksummer } from './support/fuzz/runner.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures on disk: ORG_TEMPLATES_DIR
// ---------------------------------------------------------------------------------------------------------------

const root = mkdtempSync(path.join(tmpdir(), 'molecule-org-templates-'));
const outside = mkdtempSync(path.join(tmpdir(), 'molecule-org-outside-'));
writeFileSync(path.join(outside, 'secret.yaml'), 'name: Stolen\n');
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function template(dir: string, files: Record<string, string | Buffer>) {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

template('nested', {
  'org.yaml': 'name: Nested\nworkspaces:\n  - !include team/lead.yaml\n',
  'team/lead.yaml': 'name: Boss\nfiles_dir: files/boss\nchildren:\n  - !include members/a.yaml\n',
  // Relative to the including file (team/lead.yaml), not to org.yaml.
  'team/members/a.yaml': 'name: Member A\n',
  'files/boss/notes.md': '# notes\n',
});
template('escape', { 'org.yaml': 'name: Escape\nworkspaces:\n  - !include ../escape-target.yaml\n' });
template('escape-target.yaml', {});
template('linked', { 'org.yaml': 'name: Linked\nworkspaces:\n  - !include inside.yaml\n' });
symlinkSync(path.join(outside, 'secret.yaml'), path.join(root, 'linked', 'inside.yaml'));
template('cycle', { 'org.yaml': 'name: Cycle\nworkspaces:\n  - !include a.yaml\n', 'a.yaml': 'name: A\nchildren:\n  - !include b.yaml\n', 'b.yaml': 'name: B\nchildren:\n  - !include a.yaml\n' });
/** A chain of `n` nested includes, each file one workspace deeper. */
function includeChain(dir: string, n: number) {
  const files: Record<string, string> = { 'org.yaml': `name: Chain ${n}\nworkspaces:\n  - !include i1.yaml\n` };
  for (let i = 1; i <= n; i++) files[`i${i}.yaml`] = i < n ? `name: L${i}\nchildren:\n  - !include i${i + 1}.yaml\n` : `name: L${i}\n`;
  template(dir, files);
}
includeChain('depth16', 16);
includeChain('depth17', 17);
template('binary', { 'org.yaml': Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a]) });
template('files-escape', { 'org.yaml': 'name: FE\nworkspaces:\n  - name: X\n    files_dir: ../../\n' });
template('broken', { 'org.yaml': 'name: [unclosed\n' });
// Listing accepts org.yml too (import reads org.yaml only, as the reference does).
template('yml-only', { 'org.yml': 'name: Yml Only\nworkspaces:\n  - name: Y\n' });

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

interface ImportBody {
  org: string;
  workspaces: Array<{ id: string; name: string; path: string; tier: number; status: string; skipped?: true; auth_token?: string }>;
  count: number;
  created_count: number;
  skipped_count: number;
  mode: string;
  reconcile_removed_count?: number;
  removed?: Array<{ id: string; name: string; path: string }>;
  error?: string;
}

// The channel outbox is written by the delivery worker in the background (its cursor follows the event log).
const CHANNEL_OUTBOX = new Set(['channel_event_cursor', 'channel_deliveries', 'channel_delivery_attempts']);
const CHECKSUM = { excludeTables: (t: string) => t.startsWith('audit_') || CHANNEL_OUTBOX.has(t), excludeColumns: new Set(['last_used_at']) };

async function post(t: TestTenant, payload: unknown, query = '', headers: Record<string, string> = t.admin()) {
  return t.app.inject({ method: 'POST', url: `/org/import${query}`, headers, payload: payload as Record<string, unknown> });
}

async function postYaml(t: TestTenant, text: string | Buffer, query = '') {
  return t.app.inject({ method: 'POST', url: `/org/import${query}`, headers: { ...t.admin(), 'content-type': 'application/yaml' }, payload: text });
}

async function liveTree(t: TestTenant): Promise<string[]> {
  const rows = await t.db.selectFrom('workspaces').select(['id', 'name', 'parent_id']).where('status', '<>', 'removed').execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const pathOf = (r: (typeof rows)[number]): string => (r.parent_id ? `${pathOf(byId.get(r.parent_id)!)}/${r.name}` : r.name);
  return rows.map(pathOf).sort();
}

function expectError(res: { statusCode: number; body: string }, status: number, code: string, error?: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.equal(body['code'], code, res.body);
  if (error !== undefined) assert.equal(body['error'], error, res.body);
  assert.equal(typeof body['request_id'], 'string');
  return body;
}

const uniqueName = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;

// ---------------------------------------------------------------------------------------------------------------
// Records only
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('org import (records)', (kind) => {
  const tenants: TestTenant[] = [];
  async function fresh(env: Record<string, string> = {}): Promise<TestTenant> {
    const t = await startTestTenant(kind, { env: { ORG_TEMPLATES_DIR: root, ...env } });
    tenants.push(t);
    return t;
  }
  after(async () => {
    for (const t of tenants) await t.close();
  });

  let t: TestTenant;
  let checksum: () => Promise<Record<string, string>>;
  before(async () => {
    t = await fresh();
    checksum = await checksummer(t.db as unknown as Kysely<never>, CHECKSUM);
  });

  describe('GET /org/templates', () => {
    it('lists the built-in examples and ORG_TEMPLATES_DIR; broken ones are skipped', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/org/templates', headers: t.admin() });
      assert.equal(res.statusCode, 200, res.body);
      const list = res.json() as Array<Record<string, unknown>>;
      const dirs = list.map((i) => i['dir']);
      for (const d of ['starter', 'research-team', 'nested', 'depth16', 'yml-only']) assert.ok(dirs.includes(d), `${d} listed: ${dirs.join(', ')}`);
      for (const d of ['broken', 'cycle', 'escape', 'binary', 'depth17']) assert.ok(!dirs.includes(d), `${d} (does not load) is skipped`);
      const research = list.find((i) => i['dir'] === 'research-team')!;
      assert.deepEqual(research, {
        dir: 'research-team',
        name: 'Research team',
        description: 'A research lead with two analysts and an external reporting agent run by the operator.',
        workspaces: 5,
        required_env: ['ANTHROPIC_API_KEY'],
        recommended_env: [{ any_of: ['SERPER_API_KEY', 'TAVILY_API_KEY'] }],
        source: 'builtin',
      });
      assert.equal(list.find((i) => i['dir'] === 'starter')!['workspaces'], 4);
      assert.equal(list.find((i) => i['dir'] === 'nested')!['source'], 'configured');
    });

    it('is never empty on a fresh install (no ORG_TEMPLATES_DIR, or one that does not exist)', async () => {
      const bare = await fresh({ ORG_TEMPLATES_DIR: path.join(root, 'does-not-exist') });
      const res = await bare.app.inject({ method: 'GET', url: '/org/templates', headers: bare.admin() });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual((res.json() as Array<{ dir: string }>).map((i) => i.dir).sort(), ['research-team', 'starter']);
    });
  });

  describe('POST /org/import', () => {
    it('dry run: 200 with the plan and the preflight, and nothing is written', async () => {
      const before = await checksum();
      const res = await post(t, { dir: 'starter' }, '?dry_run=true');
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), {
        dry_run: true,
        org: 'Starter',
        mode: 'merge',
        plan: [
          { action: 'create', name: 'Lead', path: 'Lead' },
          { action: 'create', name: 'Researcher', path: 'Lead/Researcher' },
          { action: 'create', name: 'Writer', path: 'Lead/Writer' },
          { action: 'create', name: 'Reviewer', path: 'Lead/Reviewer' },
        ],
        summary: { create: 4, skip: 0, remove: 0 },
        preflight: { ok: true, missing_env: [], required_env: [], recommended_env: [], missing_recommended_env: [] },
      });
      assert.deepEqual(await checksum(), before);
    });

    it('imports the example org: 201 with each workspace, its first token, the defaults and the events', async () => {
      const res = await post(t, { dir: 'starter' });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as ImportBody;
      assert.equal(body.org, 'Starter');
      assert.equal(body.count, 4);
      assert.equal(body.created_count, 4);
      assert.deepEqual(body.workspaces.map((w) => w.path), ['Lead', 'Lead/Researcher', 'Lead/Writer', 'Lead/Reviewer']);
      for (const w of body.workspaces) {
        assert.equal(w.skipped, undefined);
        assert.match(w.auth_token ?? '', /^molw_/);
        assert.equal(w.tier, 3);
      }
      assert.deepEqual(await liveTree(t), ['Lead', 'Lead/Researcher', 'Lead/Reviewer', 'Lead/Writer']);
      const writer = await t.db.selectFrom('workspaces').selectAll().where('name', '=', 'Writer').executeTakeFirstOrThrow();
      assert.deepEqual([writer.runtime, writer.model, writer.template, writer.status], ['claude-code', 'sonnet', 'shell-agent', 'provisioning']);
      // The token works for its own workspace.
      const own = await t.app.inject({ method: 'GET', url: `/workspaces/${writer.id}`, headers: t.as(body.workspaces[2]!.auth_token!) });
      assert.equal(own.statusCode, 200, own.body);
      const events = await t.db.selectFrom('workspace_events').select(['event_type', 'payload']).where('event_type', 'like', 'org.import.%').orderBy('id').execute();
      assert.deepEqual(events.map((e) => e.event_type), ['org.import.started', 'org.import.completed']);
      assert.deepEqual(events[0]!.payload, { name: 'Starter', dir: 'starter', mode: 'merge' });
      assert.equal(events[1]!.payload['created_count'], 4);
      assert.equal(events[1]!.payload['create_error'], null);
      const audit = await t.db.selectFrom('audit_events').select(['path', 'status']).where('path', '=', '/org/import').execute();
      assert.ok(audit.some((a) => a.status === 201), 'the import is audited');
    });

    it('re-import: everything skipped, nothing new written', async () => {
      const ids = (await t.db.selectFrom('workspaces').select('id').execute()).length;
      const res = await post(t, { dir: 'starter' });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as ImportBody;
      assert.equal(body.created_count, 0);
      assert.equal(body.skipped_count, 4);
      assert.ok(body.workspaces.every((w) => w.skipped === true && w.auth_token === undefined), res.body);
      assert.equal((await t.db.selectFrom('workspaces').select('id').execute()).length, ids);
      const dry = (await post(t, { dir: 'starter' }, '?dry_run=true')).json() as { summary: Record<string, number> };
      assert.deepEqual(dry.summary, { create: 0, skip: 4, remove: 0 });
    });

    it('a node with no model anywhere gets the built-in default; node values win over defaults', async () => {
      const res = await post(t, {
        template: {
          name: 'Defaults',
          defaults: { runtime: 'codex', tier: 2 },
          workspaces: [{ name: uniqueName('d1') }, { name: uniqueName('d2'), runtime: 'claude-code', tier: 4, model: 'opus' }, { name: uniqueName('d3'), runtime: 'claude-code' }],
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      const [a, b, c] = (res.json() as ImportBody).workspaces;
      const row = (id: string) => t.db.selectFrom('workspaces').select(['runtime', 'model', 'tier']).where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual(await row(a!.id), { runtime: 'codex', model: 'anthropic:claude-opus-4-7', tier: 2 });
      assert.deepEqual(await row(b!.id), { runtime: 'claude-code', model: 'opus', tier: 4 });
      assert.deepEqual(await row(c!.id), { runtime: 'claude-code', model: 'sonnet', tier: 2 });
    });

    it('spawning:false skips the node and its whole subtree', async () => {
      const top = uniqueName('top');
      const res = await post(t, {
        template: { name: 'Spawn', workspaces: [{ name: top, children: [{ name: 'Kept' }, { name: 'Dormant', spawning: false, children: [{ name: 'Below' }] }] }] },
      });
      assert.equal(res.statusCode, 201, res.body);
      assert.deepEqual((res.json() as ImportBody).workspaces.map((w) => w.path), [top, `${top}/Kept`]);
      assert.equal((await liveTree(t)).filter((p) => p.startsWith(`${top}/`)).length, 1);
    });

    it('external:true with a url is online at once, with its url; a bad url is refused', async () => {
      const name = uniqueName('ext');
      const res = await post(t, { template: { name: 'Ext', workspaces: [{ name, external: true, url: 'https://agent.example.com/a2a' }, { name: `${name}-waiting`, external: true }] } });
      assert.equal(res.statusCode, 201, res.body);
      const rows = await t.db.selectFrom('workspaces').select(['name', 'status', 'url', 'external']).where('name', 'like', `${name}%`).orderBy('name').execute();
      assert.deepEqual(rows, [
        { name, status: 'online', url: 'https://agent.example.com/a2a', external: true },
        { name: `${name}-waiting`, status: 'awaiting_agent', url: '', external: true },
      ]);
      const bad = await post(t, { template: { name: 'Ext', workspaces: [{ name: uniqueName('x'), children: [{ name: 'deep', external: true, url: 'ftp://x' }] }] } });
      const body = expectError(bad, 400, 'ORG_TEMPLATE_INVALID', 'invalid org template');
      assert.equal(body['field'], 'workspaces[0].children[0].url');
    });

    it('412 with the reference body until the org-wide secret exists; any_of is met by either key', async () => {
      const tpl = {
        name: 'Needs env',
        required_env: ['ORG_TEST_KEY', 'bad-name'],
        workspaces: [{ name: uniqueName('env'), required_env: [{ any_of: ['ORG_ALT_B', 'ORG_ALT_A'] }], children: [{ name: 'later', spawning: false, required_env: ['NEVER_NEEDED'] }] }],
      };
      const before = await checksum();
      const res = await post(t, { template: tpl });
      const body = expectError(res, 412, 'ORG_REQUIRED_ENV_MISSING', 'missing required environment variables');
      assert.deepEqual(
        { ...body, request_id: undefined },
        {
          error: 'missing required environment variables',
          code: 'ORG_REQUIRED_ENV_MISSING',
          request_id: undefined,
          missing_env: ['ORG_TEST_KEY', { any_of: ['ORG_ALT_A', 'ORG_ALT_B'] }],
          required_env: ['ORG_TEST_KEY', { any_of: ['ORG_ALT_A', 'ORG_ALT_B'] }],
          template: 'Needs env',
          suggestion: 'set these as global secrets (POST /settings/secrets) before importing',
        },
      );
      assert.deepEqual(await checksum(), before, 'a 412 writes nothing');
      const dry = (await post(t, { template: tpl }, '?dry_run=true')).json() as { preflight: { ok: boolean; missing_env: unknown[] } };
      assert.equal(dry.preflight.ok, false);
      for (const key of ['ORG_TEST_KEY', 'ORG_ALT_B']) {
        const set = await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.admin(), payload: { key, value: 'v' } });
        assert.equal(set.statusCode, 200, set.body);
      }
      const ok = await post(t, { template: tpl });
      assert.equal(ok.statusCode, 201, ok.body);
    });

    it('!include: relative to the including file, files_dir read; escapes, links out, cycles and depth 17 refused', async () => {
      const ok = await post(t, { dir: 'nested' });
      assert.equal(ok.statusCode, 201, ok.body);
      assert.deepEqual((ok.json() as ImportBody).workspaces.map((w) => w.path), ['Boss', 'Boss/Member A']);
      // files_dir: the folder's files became the workspace's own files (materialised into its directory at start).
      const bossId = (ok.json() as ImportBody).workspaces[0]!.id;
      const own = await t.db.selectFrom('workspace_files').select(['path', 'content']).where('workspace_id', '=', bossId).execute();
      assert.deepEqual(own.map((f) => [f.path, Buffer.from(f.content).toString('utf8')]), [['notes.md', '# notes\n']]);
      const deep = await post(t, { dir: 'depth16' }, '?dry_run=true');
      assert.equal(deep.statusCode, 200, deep.body);
      assert.equal((deep.json() as { plan: unknown[] }).plan.length, 16);
      const before = await checksum();
      const refused: Array<[string, number, string, RegExp]> = [
        ['escape', 400, 'ORG_TEMPLATE_EXPANSION_FAILED', /outside the template folder/],
        ['linked', 400, 'ORG_TEMPLATE_EXPANSION_FAILED', /outside the template folder/],
        ['cycle', 400, 'ORG_TEMPLATE_EXPANSION_FAILED', /include cycle: org\.yaml → a\.yaml → b\.yaml → a\.yaml/],
        ['depth17', 400, 'ORG_TEMPLATE_EXPANSION_FAILED', /deeper than 16/],
        ['binary', 400, 'ORG_TEMPLATE_INVALID', /not valid UTF-8/],
        ['files-escape', 400, 'ORG_TEMPLATE_INVALID', /not inside the template folder/],
        ['broken', 400, 'ORG_TEMPLATE_INVALID', /org\.yaml/],
      ];
      for (const [dir, status, code, detail] of refused) {
        const body = expectError(await post(t, { dir }), status, code);
        assert.match(String(body['detail']), detail, `${dir}: ${JSON.stringify(body)}`);
      }
      expectError(await post(t, { dir: 'yml-only' }), 404, 'ORG_TEMPLATE_NOT_FOUND', 'org template not found');
      assert.deepEqual(await checksum(), before);
    });

    it('bad input: 4xx naming the problem, nothing written', async () => {
      const before = await checksum();
      const noTemplate = expectError(
        await post(t, { template: { name: 'x', workspaces: [{ name: 'a', template: 'shell-agent', children: [{ name: 'b', template: 'no-such-template' }] }] } }),
        400,
        'VALIDATION_FAILED',
      );
      assert.equal(noTemplate['field'], 'workspaces[0].children[0].template');
      expectError(await post(t, { template: { name: 'x', workspaces: [{ name: 'a', template: 'no-such-template' }] } }, '?dry_run=true'), 400, 'VALIDATION_FAILED');
      expectError(await post(t, {}), 400, 'VALIDATION_FAILED', "provide 'dir' or 'template'");
      expectError(await post(t, { dir: '../etc' }), 400, 'ORG_DIRECTORY_INVALID', 'invalid org directory');
      expectError(await post(t, { dir: '/etc' }), 400, 'ORG_DIRECTORY_INVALID', 'invalid org directory');
      expectError(await post(t, { dir: 'missing' }), 404, 'ORG_TEMPLATE_NOT_FOUND', 'org template not found');
      expectError(await post(t, { dir: 'starter', mode: 'bogus' }), 400, 'VALIDATION_FAILED', 'invalid request body');
      const unknownField = expectError(await post(t, { template: { name: 'x', workspaces: [{ name: 'a', schedules: [] }] } }), 400, 'VALIDATION_FAILED');
      assert.match(String(unknownField['detail']), /schedules/);
      const deepField = expectError(await post(t, { template: { name: 'x', workspaces: [{ name: 'a', children: [{ name: 'b', children: [{ name: 'c', tier: 9 }] }] }] } }), 400, 'ORG_TEMPLATE_INVALID');
      assert.equal(deepField['field'], 'workspaces[0].children[0].children[0].tier');
      const badName = expectError(await post(t, { template: { name: 'x', workspaces: [{ name: 'a', children: [{ name: 'b{c}' }] }] } }), 400, 'VALIDATION_FAILED', 'invalid workspace fields');
      assert.equal(badName['field'], 'workspaces[0].children[0].name');
      // 17 levels of children: past the tree-depth cap, whatever the node count.
      let deepest: Record<string, unknown> = { name: 'l17' };
      for (let i = 16; i >= 1; i--) deepest = { name: `l${i}`, children: [deepest] };
      const tooDeep = expectError(await post(t, { template: { name: 'deep', workspaces: [deepest] } }), 400, 'ORG_TEMPLATE_INVALID');
      assert.match(String(tooDeep['detail']), /deeper than 16 levels/);
      const dup = expectError(await post(t, { template: { name: 'x', workspaces: [{ name: 'a' }, { name: 'a' }] } }), 400, 'ORG_TEMPLATE_INVALID');
      assert.match(String(dup['detail']), /two workspaces named "a"/);
      const inlineFiles = expectError(await post(t, { template: { name: 'x', workspaces: [{ name: 'a', files_dir: 'f' }] } }), 400, 'ORG_TEMPLATE_INVALID');
      assert.match(String(inlineFiles['detail']), /files_dir needs a template read from a folder/);
      expectError(await postYaml(t, 'name: x\nworkspaces:\n  - !include a.yaml\n'), 400, 'ORG_TEMPLATE_EXPANSION_FAILED', 'org template expansion failed');
      const text = await t.app.inject({ method: 'POST', url: '/org/import', headers: { ...t.admin(), 'content-type': 'text/plain' }, payload: 'name: x' });
      expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      assert.deepEqual(await checksum(), before);
    });

    it('a YAML alias bomb is refused (400), not expanded', async () => {
      // The billion laughs: nine levels of nine aliases each, 9^9 strings once expanded.
      const letter = (i: number) => String.fromCharCode(97 + i);
      const lines = [`${letter(0)}: &${letter(0)} [${Array(9).fill('"lol"').join(', ')}]`];
      for (let i = 1; i < 9; i++) lines.push(`${letter(i)}: &${letter(i)} [${Array(9).fill(`*${letter(i - 1)}`).join(', ')}]`);
      const before = await checksum();
      const refused = expectError(await postYaml(t, `name: bomb\nanchors:\n${lines.map((l) => `  ${l}`).join('\n')}\n`), 400, 'ORG_TEMPLATE_INVALID', 'invalid org template');
      assert.match(String(refused['detail']), /alias/i);
      assert.deepEqual(await checksum(), before);
    });

    it('a 10,000-workspace tree is 413 (JSON or YAML), before anything is read or written', async () => {
      const before = await checksum();
      const workspaces = Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, children: Array.from({ length: 999 }, (_, j) => ({ name: `c${j}` })) }));
      const res = await post(t, { template: { name: 'huge', workspaces } });
      const body = expectError(res, 413, 'ORG_TEMPLATE_TOO_LARGE', 'org template too large');
      assert.equal(body['max_workspaces'], 1000);
      const flat = `name: huge\nworkspaces:\n${Array.from({ length: 10_000 }, (_, i) => `  - name: w${i}`).join('\n')}\n`;
      expectError(await postYaml(t, flat), 413, 'ORG_TEMPLATE_TOO_LARGE');
      assert.deepEqual(await checksum(), before);
    });

    it('invalid UTF-8 and binary YAML bodies are 400', async () => {
      const bad = expectError(await postYaml(t, Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xc3, 0x28])), 400, 'ORG_TEMPLATE_INVALID');
      assert.match(String(bad['detail']), /not valid UTF-8/);
      const nul = expectError(await postYaml(t, Buffer.from('name: a\u0000b\n')), 400, 'ORG_TEMPLATE_INVALID');
      assert.match(String(nul['detail']), /NUL/);
    });

    it('a failure mid-import creates nothing: the whole import is one transaction', async () => {
      // A database failure after the workspace rows are in: the first token insert of the workspace "Boom" fails.
      await sql`create or replace function org_import_boom() returns trigger language plpgsql as $$
        begin
          if exists (select 1 from workspaces where id = new.workspace_id and name = 'Boom') then raise exception 'boom'; end if;
          return new;
        end $$`.execute(t.db);
      await sql`create trigger org_import_boom before insert on workspace_tokens for each row execute function org_import_boom()`.execute(t.db);
      try {
        const before = await checksum();
        const res = await post(t, { template: { name: 'Tx', workspaces: [{ name: uniqueName('tx'), children: [{ name: 'a' }, { name: 'b', children: [{ name: 'c' }, { name: 'Boom' }] }] }] } });
        expectError(res, 500, 'INTERNAL');
        assert.deepEqual(await checksum(), before, 'no workspace, token or event of the failed import exists');
      } finally {
        await sql`drop trigger org_import_boom on workspace_tokens`.execute(t.db);
        await sql`drop function org_import_boom()`.execute(t.db);
      }
    });
  });

  describe('reconcile', () => {
    it('removes, per parent, what the file no longer lists; a same-named workspace elsewhere survives', async () => {
      const r = await fresh();
      assert.equal((await post(r, { dir: 'starter' })).statusCode, 201);
      // Another root, with its own "Reviewer": the reference matched names tenant-wide and would remove it too.
      const other = await r.createWorkspace({ name: 'Other' });
      const otherReviewer = await r.createWorkspace({ name: 'Reviewer', parent_id: other.id });
      const stray = await r.createWorkspace({ name: 'Stray' });
      const reviewer = await r.db.selectFrom('workspaces').select('id').where('name', '=', 'Reviewer').where('parent_id', '<>', other.id).executeTakeFirstOrThrow();
      const reviewerToken = await r.app.inject({ method: 'POST', url: `/workspaces/${reviewer.id}/tokens`, headers: r.admin(), payload: {} });
      assert.equal(reviewerToken.statusCode, 201);
      // The starter file without Reviewer; Other is listed (spawning:false: kept, not descended into).
      const yamlText = [
        'name: Starter',
        'workspaces:',
        '  - name: Lead',
        '    children:',
        '      - name: Researcher',
        '      - name: Writer',
        '  - name: Other',
        '    spawning: false',
      ].join('\n');
      const dry = await postYaml(r, yamlText, '?mode=reconcile&dry_run=true');
      assert.equal(dry.statusCode, 200, dry.body);
      assert.deepEqual((dry.json() as { plan: unknown[] }).plan, [
        { action: 'skip', name: 'Lead', path: 'Lead', id: (await r.db.selectFrom('workspaces').select('id').where('name', '=', 'Lead').executeTakeFirstOrThrow()).id },
        { action: 'skip', name: 'Researcher', path: 'Lead/Researcher', id: (await r.db.selectFrom('workspaces').select('id').where('name', '=', 'Researcher').executeTakeFirstOrThrow()).id },
        { action: 'skip', name: 'Writer', path: 'Lead/Writer', id: (await r.db.selectFrom('workspaces').select('id').where('name', '=', 'Writer').executeTakeFirstOrThrow()).id },
        { action: 'remove', name: 'Reviewer', path: 'Lead/Reviewer', id: reviewer.id },
        { action: 'remove', name: 'Stray', path: 'Stray', id: stray.id },
      ]);
      const res = await postYaml(r, yamlText, '?mode=reconcile');
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as ImportBody;
      assert.equal(body.mode, 'reconcile');
      assert.equal(body.reconcile_removed_count, 2);
      assert.deepEqual(body.removed!.map((x) => x.path).sort(), ['Lead/Reviewer', 'Stray']);
      assert.deepEqual(await liveTree(r), ['Lead', 'Lead/Researcher', 'Lead/Writer', 'Other', 'Other/Reviewer']);
      assert.equal((await r.db.selectFrom('workspaces').select('status').where('id', '=', otherReviewer.id).executeTakeFirstOrThrow()).status, 'provisioning');
      // The removed workspace's tokens are revoked.
      const live = await r.db.selectFrom('workspace_tokens').select('id').where('workspace_id', '=', reviewer.id).where('revoked_at', 'is', null).execute();
      assert.deepEqual(live, []);
      const gone = await r.db.selectFrom('workspaces').select(['status', 'removed_at']).where('id', '=', reviewer.id).executeTakeFirstOrThrow();
      assert.equal(gone.status, 'removed');
      assert.ok(gone.removed_at instanceof Date);
      const events = await r.db.selectFrom('workspace_events').select('workspace_id').where('event_type', '=', 'WORKSPACE_REMOVED').execute();
      assert.deepEqual(events.map((e) => e.workspace_id).sort(), [reviewer.id, stray.id].sort());
    });
  });

  describe('GET /org/export', () => {
    it('round trip: export → import into a fresh tenant → export gives the same tree; no secret ever', async () => {
      const src = await fresh();
      assert.equal((await post(src, { dir: 'starter' })).statusCode, 201);
      const extra = await post(src, {
        template: {
          name: 'extra',
          workspaces: [
            { name: 'Gateway', role: 'Routes requests', external: true, url: 'https://gw.example.com', canvas: { x: 10.5, y: -4 }, tier: 2, runtime: 'external', model: 'none' },
            { name: 'Ops', system_prompt: 'Keep things running', plugins: ['a', 'b'], children: [{ name: 'Pager', max_concurrent_tasks: 3 }] },
          ],
        },
      });
      assert.equal(extra.statusCode, 201, extra.body);
      const secretValues = [`global-${randomBytes(8).toString('hex')}`, `ws-${randomBytes(8).toString('hex')}`];
      await src.app.inject({ method: 'PUT', url: '/settings/secrets', headers: src.admin(), payload: { key: 'EXPORT_GLOBAL', value: secretValues[0] } });
      const lead = await src.db.selectFrom('workspaces').select('id').where('name', '=', 'Lead').executeTakeFirstOrThrow();
      const setWs = await src.app.inject({ method: 'POST', url: `/workspaces/${lead.id}/secrets`, headers: src.admin(), payload: { key: 'EXPORT_WS', value: secretValues[1] } });
      assert.equal(setWs.statusCode, 200, setWs.body);

      const exported = await src.app.inject({ method: 'GET', url: '/org/export', headers: src.admin() });
      assert.equal(exported.statusCode, 200, exported.body);
      assert.match(String(exported.headers['content-type']), /^application\/yaml/);
      for (const v of secretValues) assert.ok(!exported.body.includes(v), 'no secret value in the export');
      assert.ok(!/mol[awt]_/.test(exported.body), 'no credential in the export');
      const doc = parseYaml(exported.body) as { name: string; workspaces: Array<Record<string, unknown>> };
      assert.equal(doc.name, src.orgSlug);
      assert.deepEqual(doc.workspaces.map((w) => w['name']), ['Lead', 'Gateway', 'Ops']);
      assert.deepEqual(doc.workspaces[1], { name: 'Gateway', role: 'Routes requests', tier: 2, runtime: 'external', model: 'none', external: true, url: 'https://gw.example.com', canvas: { x: 10.5, y: -4 } });

      const dst = await fresh();
      const imported = await postYaml(dst, exported.body);
      assert.equal(imported.statusCode, 201, imported.body);
      const again = await dst.app.inject({ method: 'GET', url: '/org/export', headers: dst.admin() });
      const strip = (text: string) => text.replace(/^name: .*\n/, '');
      assert.equal(strip(again.body), strip(exported.body));
      assert.deepEqual(await liveTree(dst), await liveTree(src));
      const json = await dst.app.inject({ method: 'GET', url: '/org/export?format=json', headers: dst.admin() });
      assert.equal(json.statusCode, 200);
      assert.deepEqual((json.json() as { workspaces: unknown }).workspaces, (parseYaml(again.body) as { workspaces: unknown }).workspaces);
    });
  });

  describe('roles', () => {
    it('import needs admin; a reader lists and exports; a workspace-bound key cannot act org-wide', async () => {
      const reader = await t.mintKey({ name: 'oi-reader', role: 'reader' });
      const editor = await t.mintKey({ name: 'oi-editor', role: 'editor' });
      const admin = await t.mintKey({ name: 'oi-admin', role: 'admin' });
      const ws = await t.createWorkspace();
      const bound = await t.mintKey({ name: 'oi-bound', workspace_ids: [ws.id] });
      const tpl = { template: { name: 'roles', workspaces: [{ name: uniqueName('role') }] } };
      expectError(await post(t, tpl, '', t.as(reader.auth_token)), 403, 'ROLE_FORBIDDEN');
      expectError(await post(t, tpl, '', t.as(editor.auth_token)), 403, 'ROLE_FORBIDDEN');
      expectError(await post(t, tpl, '?dry_run=true', t.as(reader.auth_token)), 403, 'ROLE_FORBIDDEN');
      expectError(await post(t, tpl, '', t.as(bound.auth_token)), 403, 'SCOPE_EXCEEDED');
      assert.equal((await post(t, tpl, '', t.as(admin.auth_token))).statusCode, 201);
      for (const url of ['/org/templates', '/org/export']) {
        const res = await t.app.inject({ method: 'GET', url, headers: t.as(reader.auth_token) });
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      }
      expectError(await t.app.inject({ method: 'GET', url: '/org/export', headers: t.as(bound.auth_token) }), 403, 'SCOPE_EXCEEDED');
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real runtimes
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('org import (runtimes on real processes)', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', HEARTBEAT_TTL_SECONDS: '10', PROVISION_TIMEOUT_SECONDS: '60', ORG_TEMPLATES_DIR: root },
    });
  });
  after(() => t?.close());

  it('the example org comes online: every imported workspace runs its runtime and registers', async () => {
    const res = await post(t, { dir: 'starter' });
    assert.equal(res.statusCode, 201, res.body);
    const ids = (res.json() as ImportBody).workspaces.map((w) => w.id);
    assert.equal(ids.length, 4);
    const deadline = Date.now() + 60_000;
    let statuses: string[] = [];
    while (Date.now() < deadline) {
      statuses = (await t.db.selectFrom('workspaces').select('status').where('id', 'in', ids).execute()).map((r) => r.status);
      if (statuses.every((s) => s === 'online')) break;
      assert.ok(!statuses.includes('failed'), `a runtime failed: ${statuses.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(statuses, ['online', 'online', 'online', 'online']);
    for (const id of ids) {
      const w = (await t.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: t.admin() })).json() as { process: { running: boolean; pid: number } | null };
      assert.equal(w.process?.running, true, `workspace ${id} has a running process`);
    }
    const again = await post(t, { dir: 'starter' });
    assert.equal(again.statusCode, 201);
    assert.equal((again.json() as ImportBody).skipped_count, 4);
  });

  it('207 when some runtimes cannot start: the records stand, the failures are named', { skip: process.getuid?.() !== 0 ? 'needs root (one agent uid per workspace)' : false }, async () => {
    // Two agent uids for three agents: the third runtime cannot start (no uid left), after the commit.
    const templates = mkdtempSync(path.join(tmpdir(), 'molecule-oi-templates-'));
    mkdirSync(path.join(templates, 'sleeper'));
    writeFileSync(path.join(templates, 'sleeper', 'template.json'), JSON.stringify({ command: 'sleep 100000' }));
    const small = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', AGENT_ISOLATION: 'uid', AGENT_UID_COUNT: '2', MOLECULE_TEMPLATES_DIR: templates, HEARTBEAT_INTERVAL_SECONDS: '1' },
    });
    try {
      const res = await post(small, { template: { name: 'Tight', workspaces: [{ name: 'One', template: 'sleeper', children: [{ name: 'Two', template: 'sleeper' }, { name: 'Three', template: 'sleeper' }] }] } });
      assert.equal(res.statusCode, 207, res.body);
      const body = res.json() as ImportBody;
      assert.equal(body.created_count, 3);
      // The three start concurrently: whichever asks last finds no uid left (which one is up to the scheduler).
      const failed = body.workspaces.filter((w) => w.status === 'failed').map((w) => w.path);
      assert.equal(failed.length, 1, JSON.stringify(body.workspaces));
      assert.deepEqual(body.workspaces.map((w) => w.path), ['One', 'One/Two', 'One/Three']);
      assert.match(body.error ?? '', new RegExp(`^1 runtime\\(s\\) failed to start: ${failed[0]}: provision failed: no free agent uid left`));
      assert.equal((await small.db.selectFrom('workspaces').select('id').where('status', '<>', 'removed').execute()).length, 3);
      const completed = await small.db.selectFrom('workspace_events').select('payload').where('event_type', '=', 'org.import.completed').executeTakeFirstOrThrow();
      assert.ok(String(completed.payload['create_error']).includes(`${failed[0]}: provision failed`), String(completed.payload['create_error']));
    } finally {
      await small.close();
      rmSync(templates, { recursive: true, force: true });
    }
  });
});
