/**
 * Bundles (issue 10 item 3; reference §3.13, with §10 item 8 fixed): GET /bundles/export/:id and POST
 * /bundles/import on a real tenant and both databases. Export shape and its one 404; import creating the whole tree
 * in one transaction; every traversal attempt, bad field and limit refused with nothing created; the round trip
 * export(import(B)) == B; secrets never exported; roles and the audit row.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { forEachDatabase, startTestTenant, type CreatedWorkspaceBody, type TestTenant } from './harness.js';

type Json = Record<string, unknown>;
interface Reply {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
  json(): Json;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A bundle with everything: nested skill files, prompts, tools, an agent card, and sub-workspaces two levels deep. */
function fullBundle(name = unique('bundle')): Json {
  return {
    schema: '1.0',
    id: 'source-root',
    name,
    description: 'Lead researcher',
    tier: 2,
    model: 'anthropic:claude-sonnet-4',
    system_prompt: '# You lead\nBe brief.\n',
    skills: [
      {
        id: 'web-search',
        name: 'Web search',
        description: 'Searches the web',
        files: { 'SKILL.md': '---\nname: Web search\ndescription: Searches the web\n---\nUse it.\n', 'scripts/run.sh': '#!/bin/sh\necho hi\n', 'data/deep/x.json': '{"a":1}' },
      },
      { id: 'notes_v2.1', name: 'Notes', description: '', files: {} },
    ],
    tools: [{ id: 'browser', config: { headless: true, limits: { pages: 3 } } }, { id: 'calculator' }],
    prompts: { 'config.yaml': 'runtime: claude-code\nmodel: x\n', 'initial-prompt.md': 'Start here.', 'prompts/idle.md': 'Idle.' },
    sub_workspaces: [
      {
        schema: '1.0',
        id: 'source-child-a',
        name: 'Child A',
        description: 'Writer',
        tier: 3,
        model: 'm-a',
        system_prompt: 'Write.',
        skills: [{ id: 'draft', name: 'Draft', description: 'Drafts', files: { 'SKILL.md': 'no frontmatter' } }],
        tools: [],
        prompts: {},
        sub_workspaces: [
          {
            schema: '1.0',
            id: 'source-grandchild',
            name: 'Grandchild',
            description: '',
            tier: 1,
            model: '',
            system_prompt: '',
            skills: [],
            tools: [],
            prompts: { 'config.yaml': 'runtime: hermes\n' },
            sub_workspaces: [],
            agent_card: null,
            author: '',
            version: '1.0.0',
          },
        ],
        agent_card: { name: 'a', skills: [{ id: 's' }] },
        author: 'team-a',
        version: '0.1.0',
      },
      {
        schema: '1.0',
        id: 'source-child-b',
        name: 'Child B',
        description: 'Reviewer',
        tier: 4,
        model: 'm-b',
        system_prompt: 'Review.',
        skills: [],
        tools: [{ id: 'linter', config: {} }],
        prompts: { 'notes.txt': 'ünïcödé ✓' },
        sub_workspaces: [],
        agent_card: null,
        author: '',
        version: '1.0.0',
      },
    ],
    agent_card: { name: 'lead', url: 'http://example.invalid', capabilities: { streaming: false } },
    author: 'research-team',
    version: '2.3.0',
  };
}

/** The bundle with every `id` removed, at every level: what a round trip must keep. */
function withoutIds(bundle: Json): Json {
  const { id: _id, sub_workspaces, ...rest } = bundle;
  return { ...rest, sub_workspaces: (sub_workspaces as Json[]).map(withoutIds) };
}

function assertError(res: Reply, status: number, code: string, error?: string): Json {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body.slice(0, 400)}`);
  const body = res.json();
  assert.equal(body['code'], code, res.body.slice(0, 400));
  if (error !== undefined) assert.equal(body['error'], error, res.body.slice(0, 400));
  assert.equal(body['request_id'], res.headers['x-request-id']);
  return body;
}

forEachDatabase('bundles', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t?.close());

  const exportOf = (id: string, headers = t.admin()) => t.app.inject({ method: 'GET', url: `/bundles/export/${id}`, headers }) as Promise<Reply>;
  const importOf = (bundle: unknown, headers = t.admin()) => t.app.inject({ method: 'POST', url: '/bundles/import', headers, payload: bundle as Json }) as Promise<Reply>;
  const importRaw = (text: string | Buffer) =>
    t.app.inject({ method: 'POST', url: '/bundles/import', headers: { ...t.admin(), 'content-type': 'application/json' }, payload: text }) as Promise<Reply>;
  const count = async (table: 'workspaces' | 'workspace_files' | 'workspace_tokens') =>
    Number((await t.db.selectFrom(table).select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const counts = async () => ({ workspaces: await count('workspaces'), files: await count('workspace_files'), tokens: await count('workspace_tokens') });

  describe('export', () => {
    let parent: CreatedWorkspaceBody;
    let child: CreatedWorkspaceBody;

    before(async () => {
      parent = await t.createWorkspace({ name: unique('exp-parent'), role: 'Planner', tier: 2, model: 'model-p', secrets: { PARENT_SECRET: 'parent-secret-value-1' } });
      child = await t.createWorkspace({ name: unique('exp-child'), parent_id: parent.id });
      await t.db
        .insertInto('workspace_files')
        .values([
          { workspace_id: parent.id, path: 'system-prompt.md', content: Buffer.from('Plan well.') },
          { workspace_id: parent.id, path: 'config.yaml', content: Buffer.from('runtime: claude-code\n') },
          { workspace_id: parent.id, path: 'skills/plan/SKILL.md', content: Buffer.from('---\nname: Planning\ndescription: Makes plans\n---\nbody') },
          { workspace_id: parent.id, path: 'skills/plan/lib/a.py', content: Buffer.from('print(1)') },
          // Not text: a bundle carries text only, so it is left out.
          { workspace_id: parent.id, path: 'bin/blob', content: Buffer.from([0xff, 0x00, 0xfe]) },
        ])
        .execute();
      const secret = await t.app.inject({ method: 'POST', url: `/workspaces/${child.id}/secrets`, headers: t.admin(), payload: { key: 'CHILD_SECRET', value: 'child-secret-value-2' } });
      assert.equal(secret.statusCode, 200, secret.body);
      const global = await t.app.inject({ method: 'POST', url: '/settings/secrets', headers: t.admin(), payload: { key: 'GLOBAL_SECRET', value: 'global-secret-value-3' } });
      assert.equal(global.statusCode, 200, global.body);
    });

    it('exports the workspace, its files, skills (described by SKILL.md frontmatter) and its live child', async () => {
      const res = await exportOf(parent.id);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(body, {
        schema: '1.0',
        id: parent.id,
        name: parent.name,
        description: 'Planner',
        tier: 2,
        model: 'model-p',
        system_prompt: 'Plan well.',
        skills: [{ id: 'plan', name: 'Planning', description: 'Makes plans', files: { 'SKILL.md': '---\nname: Planning\ndescription: Makes plans\n---\nbody', 'lib/a.py': 'print(1)' } }],
        tools: [],
        prompts: { 'config.yaml': 'runtime: claude-code\n' },
        sub_workspaces: [
          {
            schema: '1.0',
            id: child.id,
            name: child.name,
            description: '',
            tier: 3,
            model: '',
            system_prompt: '',
            skills: [],
            tools: [],
            prompts: {},
            sub_workspaces: [],
            agent_card: null,
            author: '',
            version: '1.0.0',
          },
        ],
        agent_card: null,
        author: '',
        version: '1.0.0',
      });
    });

    it('never exports secrets or tokens: no key, no value, no token, anywhere in the body', async () => {
      const res = await exportOf(parent.id);
      assert.equal(res.statusCode, 200, res.body);
      for (const needle of ['PARENT_SECRET', 'parent-secret-value-1', 'CHILD_SECRET', 'child-secret-value-2', 'GLOBAL_SECRET', 'global-secret-value-3', 'molw_', 'auth_token', 'secrets']) {
        assert.equal(res.body.includes(needle), false, `the export contains ${needle}`);
      }
      assert.equal(res.body.includes(parent.auth_token), false);
      assert.equal(res.body.includes(child.auth_token), false);
    });

    it('any workspace not found is 404 "bundle not found": unknown UUID, malformed id, NUL', async () => {
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '..x', 'a%00b', `${parent.id}x`]) {
        const body = assertError(await exportOf(id), 404, 'BUNDLE_NOT_FOUND', 'bundle not found');
        assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'request_id'], `${id}: names nothing`);
      }
    });

    it('a key bound to another workspace gets 404 "bundle not found"; bound to the parent only, it sees no child', async () => {
      const other = await t.createWorkspace({ name: unique('exp-other') });
      const boundElsewhere = await t.mintKey({ name: 'bound-elsewhere', role: 'reader', workspace_ids: [other.id] });
      assertError(await exportOf(parent.id, t.as(boundElsewhere.auth_token)), 404, 'BUNDLE_NOT_FOUND', 'bundle not found');
      assertError(await exportOf(child.id, t.as(boundElsewhere.auth_token)), 404, 'BUNDLE_NOT_FOUND', 'bundle not found');

      const boundToParent = await t.mintKey({ name: 'bound-parent', role: 'reader', workspace_ids: [parent.id] });
      const own = await exportOf(parent.id, t.as(boundToParent.auth_token));
      assert.equal(own.statusCode, 200, own.body);
      assert.deepEqual(own.json()['sub_workspaces'], []);
      assert.equal(own.body.includes(child.id), false);

      const boundToBoth = await t.mintKey({ name: 'bound-both', role: 'reader', workspace_ids: [parent.id, child.id] });
      const both = await exportOf(parent.id, t.as(boundToBoth.auth_token));
      assert.deepEqual((both.json()['sub_workspaces'] as Json[]).map((s) => s['id']), [child.id]);
    });

    it('a workspace token is not accepted (admin tier)', async () => {
      assertError(await exportOf(parent.id, t.as(parent.auth_token)), 401, 'INVALID_ADMIN_AUTH', 'invalid admin auth token');
    });

    it('a removed root is still exported (as the reference); a removed child is not', async () => {
      const root = await t.createWorkspace({ name: unique('exp-removed') });
      const gone = await t.createWorkspace({ name: unique('exp-gone'), parent_id: root.id });
      const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${gone.id}`, headers: t.admin() });
      assert.equal(del.statusCode, 200, del.body);
      assert.deepEqual((await exportOf(root.id)).json()['sub_workspaces'], []);
      const delRoot = await t.app.inject({ method: 'DELETE', url: `/workspaces/${root.id}`, headers: t.admin() });
      assert.equal(delRoot.statusCode, 200, delRoot.body);
      const res = await exportOf(root.id);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json()['id'], root.id);
    });
  });

  describe('import', () => {
    it('creates the whole tree in one go: rows, parent links, files, metadata; 201 with the ImportResult tree', async () => {
      const before = await counts();
      const bundle = fullBundle();
      const res = await importOf(bundle);
      assert.equal(res.statusCode, 201, res.body);
      const result = res.json() as { workspace_id: string; name: string; status: string; children: Array<{ workspace_id: string; name: string; status: string; children?: Json[] }> };
      assert.equal(result.name, bundle['name']);
      assert.equal(result.status, 'provisioning');
      assert.deepEqual(result.children.map((c) => [c.name, c.status]), [['Child A', 'provisioning'], ['Child B', 'provisioning']]);
      assert.equal(result.children[0]!.children!.length, 1);
      assert.equal(result.children[1]!.children, undefined);
      assert.equal(res.body.includes('molw_'), false, 'no token is returned');

      const rows = await t.db.selectFrom('workspaces').selectAll().where('id', 'in', [result.workspace_id, result.children[0]!.workspace_id, result.children[0]!.children![0]!['workspace_id'] as string]).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const root = byId.get(result.workspace_id)!;
      assert.deepEqual([root.parent_id, root.role, root.tier, root.model, root.runtime, root.status], [null, 'Lead researcher', 2, 'anthropic:claude-sonnet-4', 'claude-code', 'provisioning']);
      assert.deepEqual((root.config as Json)['bundle'] && ((root.config as Json)['bundle'] as Json)['source_bundle_id'], 'source-root');
      const a = byId.get(result.children[0]!.workspace_id)!;
      assert.equal(a.parent_id, root.id);
      const grandchild = byId.get(result.children[0]!.children![0]!['workspace_id'] as string)!;
      assert.deepEqual([grandchild.parent_id, grandchild.runtime, grandchild.tier, grandchild.role, grandchild.model], [a.id, 'hermes', 1, null, null]);

      const files = await t.db.selectFrom('workspace_files').select('path').where('workspace_id', '=', root.id).orderBy('path').execute();
      assert.deepEqual(
        files.map((f) => f.path),
        ['config.yaml', 'initial-prompt.md', 'prompts/idle.md', 'skills/web-search/SKILL.md', 'skills/web-search/data/deep/x.json', 'skills/web-search/scripts/run.sh', 'system-prompt.md'],
      );
      const after = await counts();
      assert.equal(after.workspaces, before.workspaces + 4);
      assert.equal(after.tokens, before.tokens, 'no workspace token is minted');
    });

    it('writes its audit event in its transaction (route, status 201, the importing key)', async () => {
      const editor = await t.mintKey({ name: 'audit-editor', role: 'editor' });
      const res = await importOf(fullBundle(), t.as(editor.auth_token));
      assert.equal(res.statusCode, 201, res.body);
      // In the same transaction: there the moment the response is.
      const rows = await t.db.selectFrom('audit_events').selectAll().where('request_id', '=', String(res.headers['x-request-id'])).execute();
      assert.equal(rows.length, 1);
      assert.deepEqual([rows[0]!.method, rows[0]!.route, rows[0]!.status, rows[0]!.actor], ['POST', '/bundles/import', 201, `org-token:${editor.prefix}`]);
    });

    it('a taken name is deduplicated as POST /workspaces does (" (2)")', async () => {
      const name = unique('dup');
      assert.equal((await importOf({ name })).statusCode, 201);
      const second = await importOf({ name });
      assert.equal(second.statusCode, 201, second.body);
      assert.equal(second.json()['name'], `${name} (2)`);
    });

    it('the smallest bundle is a name: defaults tier 3, runtime from nothing, no files', async () => {
      const res = await importOf({ name: unique('min') });
      assert.equal(res.statusCode, 201, res.body);
      const exported = (await exportOf(res.json()['workspace_id'] as string)).json();
      assert.equal(exported['tier'], 3);
      assert.deepEqual([exported['system_prompt'], exported['prompts'], exported['skills'], exported['version']], ['', {}, [], '1.0.0']);
    });
  });

  describe('round trip', () => {
    it('export(import(B)) equals B except ids', async () => {
      const bundle = fullBundle();
      const imported = await importOf(bundle);
      assert.equal(imported.statusCode, 201, imported.body);
      const exported = await exportOf(imported.json()['workspace_id'] as string);
      assert.equal(exported.statusCode, 200, exported.body);
      assert.deepEqual(withoutIds(exported.json()), withoutIds(bundle));
      assert.equal(exported.json()['id'], imported.json()['workspace_id']);
    });

    it('export, then import under a new name, then export again: the same bundle', async () => {
      const first = await importOf(fullBundle());
      const exported = (await exportOf(first.json()['workspace_id'] as string)).json();
      const renamed = { ...exported, name: unique('renamed') };
      const second = await importOf(renamed);
      assert.equal(second.statusCode, 201, second.body);
      assert.equal(second.json()['name'], renamed.name);
      const again = (await exportOf(second.json()['workspace_id'] as string)).json();
      assert.deepEqual(withoutIds(again), withoutIds(renamed));
    });
  });

  describe('refused, nothing created', () => {
    /** Every refusal below: the status and code, and not one row anywhere. */
    async function refused(bundle: unknown, status: number, code: string, check?: (body: Json) => void, headers = t.admin()) {
      const before = await counts();
      const res = typeof bundle === 'string' || Buffer.isBuffer(bundle) ? await importRaw(bundle) : await importOf(bundle, headers);
      const body = assertError(res, status, code);
      check?.(body);
      assert.deepEqual(await counts(), before, 'nothing was written');
      return body;
    }

    /** A valid tree whose deepest node carries the given change: the root and child would be valid. */
    const deep = (leaf: Json): Json => ({ name: unique('ok-root'), sub_workspaces: [{ name: 'ok-child', sub_workspaces: [{ name: 'leaf', ...leaf }] }] });

    const traversals: Array<[string, Json, RegExp, string]> = [
      ['skill id ../x', { skills: [{ id: '../x', files: { 'a.md': 'x' } }] }, /^invalid skill id in bundle: "\.\.\/x"$/, 'skills[0].id'],
      ['skill id ..', { skills: [{ id: '..', files: {} }] }, /^invalid skill id/, 'skills[0].id'],
      ['skill id a..b', { skills: [{ id: 'a..b', files: {} }] }, /^invalid skill id/, 'skills[0].id'],
      ['skill id with a slash', { skills: [{ id: 'a/b', files: {} }] }, /^invalid skill id/, 'skills[0].id'],
      ['skill id starting with a dot', { skills: [{ id: '.hidden', files: {} }] }, /^invalid skill id/, 'skills[0].id'],
      ['skill file ../../etc/passwd', { skills: [{ id: 'ok', files: { '../../etc/passwd': 'x' } }] }, /^unsafe path in bundle: "\.\.\/\.\.\/etc\/passwd" contains "\.\."$/, 'skills[0].files["../../etc/passwd"]'],
      ['skill file absolute', { skills: [{ id: 'ok', files: { '/etc/passwd': 'x' } }] }, /is absolute$/, 'skills[0].files["/etc/passwd"]'],
      ['skill file with a backslash', { skills: [{ id: 'ok', files: { '..\\..\\x': 'x' } }] }, /contains a backslash$/, 'skills[0].files["..\\\\..\\\\x"]'],
      ['skill file a/./b', { skills: [{ id: 'ok', files: { 'a/./b': 'x' } }] }, /not normalised/, 'skills[0].files["a/./b"]'],
      ['skill file a//b', { skills: [{ id: 'ok', files: { 'a//b': 'x' } }] }, /not normalised/, 'skills[0].files["a//b"]'],
      ['skill file ending in /', { skills: [{ id: 'ok', files: { 'a/': 'x' } }] }, /not normalised/, 'skills[0].files["a/"]'],
      ['skill file .', { skills: [{ id: 'ok', files: { '.': 'x' } }] }, /not normalised/, 'skills[0].files["."]'],
      ['skill file with a control character', { skills: [{ id: 'ok', files: { 'a\u0001b': 'x' } }] }, /control character$/, 'skills[0].files["a\\u0001b"]'],
      ['prompt ../x', { prompts: { '../x': 'x' } }, /contains "\.\."$/, 'prompts["../x"]'],
      ['prompt absolute', { prompts: { '/tmp/x': 'x' } }, /is absolute$/, 'prompts["/tmp/x"]'],
      ['prompt on a drive', { prompts: { 'C:/x': 'x' } }, /names a drive$/, 'prompts["C:/x"]'],
      ['prompt system-prompt.md', { prompts: { 'system-prompt.md': 'x' } }, /^prompt path reserved in bundle/, 'prompts["system-prompt.md"]'],
      ['prompt inside a skill folder', { prompts: { 'skills/x/SKILL.md': 'x' } }, /^prompt path reserved in bundle/, 'prompts["skills/x/SKILL.md"]'],
    ];
    for (const [what, node, message, field] of traversals) {
      it(`${what} → 400 naming it, at the root and two levels down; nothing created`, async () => {
        await refused({ name: unique('bad'), ...node }, 400, 'VALIDATION_FAILED', (body) => {
          assert.match(String(body['error']), message);
          assert.equal(body['field'], field);
        });
        await refused(deep(node), 400, 'VALIDATION_FAILED', (body) => {
          assert.match(String(body['error']), message);
          assert.equal(body['field'], `sub_workspaces[0].sub_workspaces[0].${field}`);
        });
      });
    }

    it('a NUL in a path or a file, or an empty path → 400 invalid bundle naming the field; nothing created', async () => {
      for (const node of [{ skills: [{ id: 'ok', files: { 'a\u0000b': 'x' } }] }, { prompts: { 'x.md': 'bin\u0000ary' } }, { prompts: { '': 'x' } }, { system_prompt: 'a\u0000' }]) {
        await refused({ name: unique('nul'), ...node }, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['error'], 'invalid bundle'));
        await refused(deep(node), 400, 'VALIDATION_FAILED', (body) => {
          assert.equal(body['error'], 'invalid bundle');
          assert.match(String(body['field']), /^sub_workspaces\[0\]\.sub_workspaces\[0\]\./);
        });
      }
    });

    it('a lone surrogate in a file (no UTF-8 form) → 400; a body that is not valid UTF-8 → 400 invalid bundle', async () => {
      await refused(`{"name":"sur","prompts":{"a.md":"x\\ud800"}}`, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'prompts.a.md'));
      const invalidUtf8 = Buffer.concat([Buffer.from('{"name":"bin","prompts":{"a.md":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]);
      await refused(invalidUtf8, 400, 'INVALID_JSON', (body) => assert.equal(body['error'], 'invalid bundle'));
    });

    it('invalid JSON → 400 "invalid bundle"; a wrong shape → 400 "invalid bundle" naming the field', async () => {
      await refused('{"name":', 400, 'INVALID_JSON', (body) => assert.equal(body['error'], 'invalid bundle'));
      await refused('[]', 400, 'VALIDATION_FAILED', (body) => assert.equal(body['error'], 'invalid bundle'));
      await refused({ name: 'x', skills: 'nope' }, 400, 'VALIDATION_FAILED', (body) => {
        assert.equal(body['error'], 'invalid bundle');
        assert.equal(body['field'], 'skills');
      });
      await refused({ name: 'x', surprise: 1 }, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'surprise'));
      await refused(deep({ skills: [{ id: 'ok', files: { 'a.md': 7 } }] }), 400, 'VALIDATION_FAILED', (body) => {
        assert.equal(body['error'], 'invalid bundle');
        assert.equal(body['field'], 'sub_workspaces[0].sub_workspaces[0].skills[0].files.a.md');
      });
      await refused({ name: 'x', schema: '2.0' }, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'schema'));
    });

    it('a blank or missing name → 400 "bundle name is required", at any level', async () => {
      for (const name of ['', '   ', undefined]) {
        await refused(name === undefined ? {} : { name }, 400, 'VALIDATION_FAILED', (body) => {
          assert.equal(body['error'], 'bundle name is required');
          assert.equal(body['field'], 'name');
        });
      }
      await refused({ name: 'fine', sub_workspaces: [{ name: 'ok' }, { name: ' ' }] }, 400, 'VALIDATION_FAILED', (body) => {
        assert.equal(body['error'], 'bundle name is required');
        assert.equal(body['field'], 'sub_workspaces[1].name');
      });
      await refused({ name: 'bad|name' }, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'name'));
    });

    it('tier outside 1-4 → 400 naming it (the reference stores any tier)', async () => {
      for (const tier of [0, 5, -1]) await refused({ name: 'tiers', tier }, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'tier'));
      await refused(deep({ tier: 9 }), 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'sub_workspaces[0].sub_workspaces[0].tier'));
    });

    it('a config.yaml that is not YAML, or whose runtime is not a one-line string → 400 naming it', async () => {
      await refused({ name: 'yaml', prompts: { 'config.yaml': 'runtime: [unclosed' } }, 400, 'VALIDATION_FAILED', (body) => {
        assert.match(String(body['error']), /^invalid config\.yaml in bundle: /);
        assert.equal(body['field'], 'prompts["config.yaml"]');
      });
      await refused(deep({ prompts: { 'config.yaml': 'runtime:\n  nested: true\n' } }), 400, 'VALIDATION_FAILED', (body) => {
        assert.match(String(body['error']), /^invalid config\.yaml in bundle: runtime must be a single value/);
        assert.equal(body['field'], 'sub_workspaces[0].sub_workspaces[0].prompts["config.yaml"]');
      });
      await refused(deep({ prompts: { 'config.yaml': 'runtime: "two\\nlines"\n' } }), 400, 'VALIDATION_FAILED', (body) => {
        assert.match(String(body['error']), /^invalid runtime in bundle config\.yaml/);
        assert.equal(body['field'], 'sub_workspaces[0].sub_workspaces[0].prompts["config.yaml"]');
      });
    });

    it('one transaction: a failure after 22 rows were inserted (the 23rd sibling name has no free suffix) leaves nothing', async () => {
      const siblings = Array.from({ length: 22 }, () => ({ name: 'same', system_prompt: 'written, then rolled back' }));
      await refused({ name: unique('tx'), sub_workspaces: siblings }, 409, 'CONFLICT', (body) => {
        assert.equal(body['error'], 'workspace name already in use; please pick a different name');
        assert.equal(body['field'], 'sub_workspaces[21].name');
      });
    });

    it('a duplicate skill id → 400 naming it', async () => {
      await refused({ name: 'dups', skills: [{ id: 'a' }, { id: 'a' }] }, 400, 'VALIDATION_FAILED', (body) => assert.equal(body['field'], 'skills[1].id'));
    });

    it('an editor may import; a reader may not (403); a key bound to a workspace may not (403 SCOPE_EXCEEDED); a reader exports', async () => {
      const reader = await t.mintKey({ name: 'reader', role: 'reader' });
      const editor = await t.mintKey({ name: 'editor', role: 'editor' });
      const ws = await t.createWorkspace({ name: unique('roles') });
      const bound = await t.mintKey({ name: 'bound-admin', role: 'admin', workspace_ids: [ws.id] });
      await refused(fullBundle(), 403, 'ROLE_FORBIDDEN', undefined, t.as(reader.auth_token));
      await refused(fullBundle(), 403, 'SCOPE_EXCEEDED', undefined, t.as(bound.auth_token));
      const ok = await importOf(fullBundle(), t.as(editor.auth_token));
      assert.equal(ok.statusCode, 201, ok.body);
      const exported = await exportOf(ok.json()['workspace_id'] as string, t.as(reader.auth_token));
      assert.equal(exported.statusCode, 200, exported.body);
      assert.equal((exported.json()['sub_workspaces'] as Json[]).length, 2);
    });
  });

  describe('limits → 413, nothing created', () => {
    async function tooLarge(bundle: unknown, limit: string | null) {
      const before = await counts();
      const res = typeof bundle === 'string' ? await importRaw(bundle) : await importOf(bundle);
      const body = assertError(res, 413, 'PAYLOAD_TOO_LARGE');
      if (limit !== null) assert.equal(body['limit'], limit, res.body);
      assert.deepEqual(await counts(), before, 'nothing was written');
      return body;
    }
    const chain = (levels: number): Json => {
      let node: Json = { name: `level-${levels}` };
      for (let i = levels - 1; i >= 1; i--) node = { name: `level-${i}`, sub_workspaces: [node] };
      return node;
    };

    it('16 levels are imported; 17 are 413 (depth)', async () => {
      const ok = await importOf({ ...chain(16), name: unique('deep16') });
      assert.equal(ok.statusCode, 201, ok.body);
      const body = await tooLarge({ ...chain(17), name: unique('deep17') }, 'depth');
      assert.match(String(body['error']), /at most 16 levels/);
    });

    it('a 5,000-deep tree is 413 after one pass (no stack overflow, no 500)', async () => {
      const text = '{"name":"d","sub_workspaces":['.repeat(5000) + '{"name":"x"}' + ']}'.repeat(5000);
      await tooLarge(text, 'depth');
    });

    it('more than 1,000 workspaces → 413 (nodes)', async () => {
      await tooLarge({ name: unique('wide'), sub_workspaces: Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}` })) }, 'nodes');
    });

    it('more than 200 files in one workspace → 413 (filesPerNode), counting prompts, skill files and the system prompt', async () => {
      const prompts = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}.md`, 'x']));
      const files = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}.md`, 'x']));
      await tooLarge({ name: unique('files'), system_prompt: 'x', prompts, skills: [{ id: 's', files }] }, 'filesPerNode');
    });

    it('a file over 1 MiB → 413 (fileBytes), measured in UTF-8 bytes', async () => {
      // 600,000 two-byte characters: under 1 Mi characters, over 1 MiB of UTF-8.
      const body = await tooLarge({ name: unique('big'), sub_workspaces: [{ name: 'c', prompts: { 'big.md': 'é'.repeat(600_000) } }] }, 'fileBytes');
      assert.equal(body['field'], 'sub_workspaces[0].prompts["big.md"]');
    });

    it('more than 10 MiB of files in all → 413 (bundleBytes); a body over 16 MiB → 413 before parsing', async () => {
      const mib = 'x'.repeat(1024 * 1024 - 16);
      const children = Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, system_prompt: mib }));
      await tooLarge({ name: unique('total'), sub_workspaces: children }, 'bundleBytes');
      await tooLarge(JSON.stringify({ name: 'huge', prompts: { 'a.md': 'x'.repeat(17 * 1024 * 1024) } }), null);
    });
  });

  describe('over real HTTP: export a workspace, import it under a new name (the README curl flow)', () => {
    let h: TestTenant;
    before(async () => {
      h = await startTestTenant(kind, { listen: true });
    });
    after(() => h?.close());

    it('GET the bundle, change its name, POST it back: a second workspace tree with the same content', async () => {
      const key = await h.mintKey({ name: 'curl-flow', role: 'editor' });
      const headers = { ...h.as(key.auth_token), 'content-type': 'application/json' };
      const seeded = await fetch(`${h.url}/bundles/import`, { method: 'POST', headers, body: JSON.stringify(fullBundle('original')) });
      assert.equal(seeded.status, 201);
      const originalId = ((await seeded.json()) as Json)['workspace_id'] as string;

      const exported = await fetch(`${h.url}/bundles/export/${originalId}`, { headers });
      assert.equal(exported.status, 200);
      const bundle = (await exported.json()) as Json;
      const copy = await fetch(`${h.url}/bundles/import`, { method: 'POST', headers, body: JSON.stringify({ ...bundle, name: 'copy' }) });
      assert.equal(copy.status, 201);
      const created = (await copy.json()) as Json;
      assert.equal(created['name'], 'copy');
      assert.notEqual(created['workspace_id'], originalId);
      const again = (await (await fetch(`${h.url}/bundles/export/${String(created['workspace_id'])}`, { headers })).json()) as Json;
      assert.deepEqual(withoutIds(again), withoutIds({ ...bundle, name: 'copy' }));
    });
  });
});
