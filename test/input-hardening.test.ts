/**
 * Issue 8: no input yields a 5xx. Each case an adversarial run found answering 500 (a NUL byte or a lone surrogate
 * reaching PostgreSQL, an out-of-range number in a query string, an UPDATE with an empty SET, a 5,000-deep
 * `agent_card`) is pinned here by name, on both databases, with the 400 naming the field — and nothing stored.
 * The schema lints at the end keep the guarantee for routes added later: every free-form request string in both
 * OpenAPI documents refuses NUL and lone surrogates, every integer (and every number in a query or path) is
 * bounded, and every free-form JSON object carries depth and size limits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JSON_LIMITS_KEYWORD, TEXT_FORMAT } from '../src/core/http/input.js';
import { startTestControlPlane, uniqueSlug, type TestControlPlane, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type CreatedWorkspaceBody, type TestTenant } from './harness.js';
import { generateControlPlaneOpenApi, generateTenantOpenApi } from './support/openapi.js';

interface Reply {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
}

const NUL = '\u0000';
/** A high surrogate with nothing after it: no UTF-8 encoding exists. Sent as a JSON escape, as a client would. */
const LONE_SURROGATE_JSON = '\\ud800';

/** 400 VALIDATION_FAILED in the one error shape, naming `field`. */
function assert400(res: Reply, field: string) {
  assert.equal(res.statusCode, 400, `expected 400 naming ${field}, got ${res.statusCode}: ${res.body.slice(0, 300)}`);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  assert.equal(body['code'], 'VALIDATION_FAILED', res.body);
  assert.equal(typeof body['error'], 'string');
  assert.equal(body['request_id'], res.headers['x-request-id']);
  const fields = (body['fields'] as string[] | undefined) ?? (body['field'] !== undefined ? [body['field'] as string] : []);
  assert.ok(fields.includes(field), `the error names ${field}: ${res.body}`);
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
}

forEachDatabase('input hardening: tenant', (kind) => {
  let t: TestTenant;
  let ws: CreatedWorkspaceBody;
  before(async () => {
    t = await startTestTenant(kind);
    ws = await t.createWorkspace();
  });
  after(() => t.close());

  const json = (method: 'POST' | 'PATCH', url: string, text: string, headers?: Record<string, string>) =>
    t.app.inject({ method, url, headers: { ...(headers ?? t.admin()), 'content-type': 'application/json' }, payload: text });
  const workspaceCount = async () => Number((await t.db.selectFrom('workspaces').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  for (const field of ['name', 'role', 'runtime', 'template', 'model', 'llm_provider']) {
    it(`POST /workspaces: a NUL byte in ${field} is 400 naming it, and nothing is stored`, async () => {
      const before = await workspaceCount();
      const res = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.admin(), payload: { name: `nul-${field}`, [field]: `a${NUL}b` } });
      assert400(res, field);
      assert.equal(await workspaceCount(), before);
    });
  }

  it('POST /workspaces: a lone surrogate in name is 400, not stored as U+FFFD', async () => {
    const before = await workspaceCount();
    assert400(await json('POST', '/workspaces', `{"name":"a${LONE_SURROGATE_JSON}"}`), 'name');
    assert.equal(await workspaceCount(), before);
  });

  it('POST /workspaces: a lone surrogate or NUL inside compute (a JSON column) is 400 naming compute', async () => {
    assert400(await json('POST', '/workspaces', `{"name":"sur-compute","compute":{"a":"${LONE_SURROGATE_JSON}"}}`), 'compute');
    assert400(await json('POST', '/workspaces', `{"name":"sur-compute","compute":{"a${LONE_SURROGATE_JSON}":1}}`), 'compute');
    assert400(await json('POST', '/workspaces', '{"name":"nul-compute","compute":{"a":["\\u0000"]}}'), 'compute');
  });

  it('POST /workspaces: budget_limit beyond bigint is 400 naming it', async () => {
    assert400(await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.admin(), payload: { name: 'huge-budget', budget_limit: 1e20 } }), 'budget_limit');
  });

  it('POST /workspaces/:id/secrets and /settings/secrets: a NUL byte in a value is 400 (it could never reach a process environment)', async () => {
    assert400(await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/secrets`, headers: t.admin(), payload: { key: 'NUL_VALUE', value: `a${NUL}` } }), 'value');
    assert400(await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.admin(), payload: { key: 'NUL_VALUE', value: `a${NUL}` } }), 'value');
    const stored = await t.db.selectFrom('workspace_secrets').select('key').where('key', '=', 'NUL_VALUE').execute();
    assert.deepEqual(stored, []);
  });

  for (const field of ['name', 'role', 'runtime', 'template', 'model', 'url']) {
    it(`PATCH /workspaces/:id: a NUL byte in ${field} is 400 naming it, and the workspace is unchanged`, async () => {
      const beforeRow = await t.db.selectFrom('workspaces').selectAll().where('id', '=', ws.id).executeTakeFirstOrThrow();
      const value = field === 'url' ? `http://a${NUL}` : `a${NUL}`;
      assert400(await t.app.inject({ method: 'PATCH', url: `/workspaces/${ws.id}`, headers: t.admin(), payload: { [field]: value } }), field);
      const afterRow = await t.db.selectFrom('workspaces').selectAll().where('id', '=', ws.id).executeTakeFirstOrThrow();
      assert.deepEqual(afterRow, beforeRow);
    });
  }

  describe('registry', () => {
    const runtime = () => ({ authorization: `Bearer ${ws.auth_token}` });

    it('POST /registry/register {"id"} alone registers (no UPDATE with an empty SET)', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/registry/register', headers: runtime(), payload: { id: ws.id } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { status: 'registered', delivery_mode: 'push' });
    });

    it('POST /registry/register: a NUL byte in url is 400 naming it', async () => {
      assert400(await t.app.inject({ method: 'POST', url: '/registry/register', headers: runtime(), payload: { id: ws.id, url: `http://a${NUL}` } }), 'url');
    });

    it('POST /registry/register: agent_card nested 5,000 deep is 400 naming it (no stack overflow)', async () => {
      assert400(await json('POST', '/registry/register', `{"id":"${ws.id}","agent_card":${nested(5000)}}`, runtime()), 'agent_card');
    });

    it('POST /registry/register: agent_card may nest 32 levels, not 33', async () => {
      const ok = await json('POST', '/registry/register', `{"id":"${ws.id}","agent_card":${nested(32)}}`, runtime());
      assert.equal(ok.statusCode, 200, ok.body);
      assert400(await json('POST', '/registry/register', `{"id":"${ws.id}","agent_card":${nested(33)}}`, runtime()), 'agent_card');
    });

    it('POST /registry/register: agent_card over 64 KiB of JSON is 400 naming it', async () => {
      const big = JSON.stringify({ id: ws.id, agent_card: { blob: 'x'.repeat(70_000) } });
      assert400(await json('POST', '/registry/register', big, runtime()), 'agent_card');
    });

    it('POST /registry/register: a lone surrogate or NUL in agent_card (a jsonb column) is 400, and the stored card is unchanged', async () => {
      const card = async () => (await t.db.selectFrom('workspaces').select('agent_card').where('id', '=', ws.id).executeTakeFirstOrThrow()).agent_card;
      const stored = await card();
      assert400(await json('POST', '/registry/register', `{"id":"${ws.id}","agent_card":{"name":"${LONE_SURROGATE_JSON}"}}`, runtime()), 'agent_card');
      assert400(await json('POST', '/registry/register', `{"id":"${ws.id}","agent_card":{"name":"\\u0000"}}`, runtime()), 'agent_card');
      assert.deepEqual(await card(), stored);
    });

    it('POST /registry/heartbeat: a NUL byte in current_task is 400 naming it', async () => {
      assert400(await t.app.inject({ method: 'POST', url: '/registry/heartbeat', headers: runtime(), payload: { workspace_id: ws.id, current_task: `a${NUL}` } }), 'current_task');
    });

    it('POST /registry/heartbeat: uptime_seconds and active_tasks beyond an integer column are 400 naming them', async () => {
      assert400(await t.app.inject({ method: 'POST', url: '/registry/heartbeat', headers: runtime(), payload: { workspace_id: ws.id, uptime_seconds: 1e20 } }), 'uptime_seconds');
      assert400(await t.app.inject({ method: 'POST', url: '/registry/heartbeat', headers: runtime(), payload: { workspace_id: ws.id, active_tasks: 2 ** 31 } }), 'active_tasks');
    });
  });

  for (const path of ['/audit', '/audit/export']) {
    for (const filter of ['actor', 'credential_id', 'path']) {
      it(`GET ${path}?${filter}=%00 is 400 naming ${filter}`, async () => {
        assert400(await t.app.inject({ method: 'GET', url: `${path}?${filter}=a%00b`, headers: t.admin() }), filter);
      });
    }
  }

  // Found by test/fuzz.test.ts: errors the router raises before any hook ran carried no X-Request-Id header.
  const routerRefusals: Array<[string, number, string]> = [
    ['/workspaces/%ZZ', 400, 'VALIDATION_FAILED'],
    [`/workspaces/${'x'.repeat(300)}`, 414, 'URI_TOO_LONG'],
    ['/workspaces/%ED%A0%80', 400, 'VALIDATION_FAILED'],
  ];
  for (const [url, status, code] of routerRefusals) {
    it(`GET ${url.slice(0, 40)}: a malformed path is ${status} ${code} with X-Request-Id matching the body's request_id`, async () => {
      const res = await t.app.inject({ method: 'GET', url, headers: t.admin() });
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json().code, code);
      assert.equal(typeof res.headers['x-request-id'], 'string');
      assert.equal(res.json().request_id, res.headers['x-request-id']);
    });
  }

  const outOfRange: Array<[string, string]> = [
    ['/events?before=1e309', 'before'],
    ['/events?before=99999999999999999999', 'before'],
    ['/events/:id?before=1e309', 'before'],
    ['/events/:id?before=99999999999999999999', 'before'],
    ['/audit?cursor=99999999999999999999', 'cursor'],
    ['/audit?cursor=1e309', 'cursor'],
    ['/workspaces/:id/tokens?offset=99999999999999999999', 'offset'],
    ['/workspaces/:id/tokens?offset=1e309', 'offset'],
    ['/org/tokens?limit=Infinity', 'limit'],
  ];
  for (const [url, field] of outOfRange) {
    it(`GET ${url} is 400 naming ${field}`, async () => {
      assert400(await t.app.inject({ method: 'GET', url: url.replace(':id', ws.id), headers: t.admin() }), field);
    });
  }
});

forEachDatabase('input hardening: control plane', (kind) => {
  let cp: TestControlPlane;
  let user: TestUser;
  before(async () => {
    cp = await startTestControlPlane(kind);
    user = await cp.signup();
  });
  after(() => cp.close());

  const orgCount = async () => Number((await cp.db.selectFrom('organizations').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  it('POST /api/v1/orgs: a NUL byte in name is 400 naming it, and no org is created', async () => {
    const before = await orgCount();
    assert400(await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(user), payload: { slug: uniqueSlug(), name: `a${NUL}` } }), 'name');
    assert.equal(await orgCount(), before);
  });

  it('POST /api/v1/admin/orgs: a NUL byte in name is 400 naming it, and no org is created', async () => {
    const before = await orgCount();
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: cp.admin(), payload: { slug: uniqueSlug(), name: `a${NUL}`, owner_user_id: user.userId } });
    assert400(res, 'name');
    assert.equal(await orgCount(), before);
  });

  for (const path of ['/api/v1/admin/audit', '/api/v1/admin/audit/export']) {
    for (const filter of ['actor', 'credential_id', 'path']) {
      it(`GET ${path}?${filter}=%00 is 400 naming ${filter}`, async () => {
        assert400(await cp.app.inject({ method: 'GET', url: `${path}?${filter}=a%00b`, headers: cp.admin() }), filter);
      });
    }
  }

  it('GET /api/v1/orgs/%ZZ: a malformed path is 400 with X-Request-Id matching the body\'s request_id', async () => {
    const res = await cp.app.inject({ method: 'GET', url: '/api/v1/orgs/%ZZ', headers: cp.as(user) });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(typeof res.headers['x-request-id'], 'string');
    assert.equal(res.json().request_id, res.headers['x-request-id']);
  });

  for (const [url, field] of [
    ['/api/v1/admin/audit?cursor=99999999999999999999', 'cursor'],
    ['/api/v1/admin/audit?cursor=1e309', 'cursor'],
    ['/api/v1/admin/orgs?offset=99999999999999999999', 'offset'],
    ['/api/v1/admin/orgs?offset=1e309', 'offset'],
  ] as const) {
    it(`GET ${url} is 400 naming ${field}`, async () => {
      assert400(await cp.app.inject({ method: 'GET', url, headers: cp.admin() }), field);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Schema lints over both served OpenAPI documents
// ---------------------------------------------------------------------------------------------------------------

type Schema = Record<string, unknown>;
interface Operation {
  parameters?: Array<{ in: string; name: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
type Doc = { paths: Record<string, Record<string, Operation>> };

/** Every request-side schema node (params, query, headers, JSON body), with a readable location. */
function requestSchemas(doc: Doc): Array<{ where: string; part: string; schema: Schema }> {
  const out: Array<{ where: string; part: string; schema: Schema }> = [];
  const walk = (schema: unknown, where: string, part: string) => {
    if (schema === null || typeof schema !== 'object') return;
    const s = schema as Schema;
    out.push({ where, part, schema: s });
    for (const [k, v] of Object.entries((s['properties'] as Record<string, unknown> | undefined) ?? {})) walk(v, `${where}.${k}`, part);
    for (const key of ['anyOf', 'oneOf', 'allOf'] as const) for (const v of (s[key] as unknown[] | undefined) ?? []) walk(v, where, part);
    if (s['items']) walk(s['items'], `${where}[]`, part);
    if (s['additionalProperties'] && typeof s['additionalProperties'] === 'object') walk(s['additionalProperties'], `${where}.*`, part);
    if (s['propertyNames']) walk(s['propertyNames'], `${where}<key>`, part);
    for (const v of Object.values((s['patternProperties'] as Record<string, unknown> | undefined) ?? {})) walk(v, `${where}.*`, part);
  };
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const route = `${method.toUpperCase()} ${p}`;
      for (const prm of op.parameters ?? []) walk(prm.schema, `${route} ${prm.in}:${prm.name}`, prm.in);
      for (const [type, c] of Object.entries(op.requestBody?.content ?? {})) walk(c.schema, `${route} body(${type})`, 'body');
    }
  }
  return out;
}

const STRICT_FORMATS = new Set([TEXT_FORMAT, 'date-time', 'email', 'uuid']);

/**
 * An allowlist pattern names every character it accepts: anchored at both ends, no `.`, no negated class or
 * escape (`[^…]`, `\S`, `\W`, `\D`, `\P`), no NUL written into a class. Such a pattern cannot accept a NUL or,
 * under the validator's `u` flag, an unpaired surrogate. Anything looser must also be `Text` (format `text`).
 */
function isAllowlistPattern(pattern: string): boolean {
  return pattern.startsWith('^') && pattern.endsWith('$') && !/(^|[^\\])\.|\[\^|\\[SWDP]|\\u0000|\\x00|\\0/.test(pattern);
}

for (const [service, generate] of [
  ['tenant', generateTenantOpenApi],
  ['control plane', generateControlPlaneOpenApi],
] as const) {
  describe(`${service} OpenAPI document: request schemas refuse what the datastore cannot hold`, () => {
    let nodes: Array<{ where: string; part: string; schema: Schema }>;
    before(async () => {
      nodes = requestSchemas((await generate()) as Doc);
    });

    it('every request string is Text (format text), a strict format, an enum/const, or an allowlist pattern', () => {
      const loose = nodes
        .filter(({ schema: s }) => s['type'] === 'string')
        .filter(({ schema: s }) => !(STRICT_FORMATS.has(s['format'] as string) || 'enum' in s || 'const' in s || (typeof s['pattern'] === 'string' && isAllowlistPattern(s['pattern']))))
        .map((n) => n.where);
      assert.deepEqual(loose, [], 'use Text() from src/core/http/input.ts for these');
    });

    it('every request integer has a minimum and a maximum; so does every number in a query string, path or header', () => {
      const unbounded = nodes
        .filter(({ schema: s, part }) => s['type'] === 'integer' || (s['type'] === 'number' && part !== 'body'))
        .filter(({ schema: s }) => typeof s['minimum'] !== 'number' || typeof s['maximum'] !== 'number')
        .map((n) => n.where);
      assert.deepEqual(unbounded, []);
    });

    it('every free-form JSON object carries depth and size limits (JsonObject)', () => {
      const free = nodes
        .filter(({ schema: s }) => s['type'] === 'object' && !s['properties'])
        .filter(({ schema: s }) => {
          const extra = s['additionalProperties'];
          const typedValues = extra !== undefined && typeof extra === 'object' && Object.keys(extra as object).length > 0;
          const typedPatterns = Object.values((s['patternProperties'] as Record<string, object> | undefined) ?? {}).some((v) => Object.keys(v).length > 0);
          return extra !== false && !typedValues && !typedPatterns;
        })
        .filter(({ schema: s }) => !(JSON_LIMITS_KEYWORD in s))
        .map((n) => n.where);
      assert.deepEqual(free, [], 'use JsonObject() from src/core/http/input.ts for these');
    });
  });
}
