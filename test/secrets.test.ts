import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { keyIdOf, SecretCipher, UnknownSecretKeyError } from '../src/core/crypto/cipher.js';
import { openDatabase } from '../src/core/db/index.js';
import { migrate } from '../src/core/db/migrate.js';
import { loadTenantConfig } from '../src/tenant/config.js';
import { tenantMigrations, VALUE_HASH_MIGRATION_ID } from '../src/tenant/db/migrations.js';
import type { TenantSchema } from '../src/tenant/db/schema.js';
import { reencryptWorkspaceSecretRow, rotateSecretsKey } from '../src/tenant/secrets/rotate-key.js';
import { resolveWorkspaceEnv, SecretsUnreadableError, upsertWorkspaceSecrets, workspaceSecretAad } from '../src/tenant/secrets/store.js';
import { createScratchDatabase, forEachDatabase, startTestTenant, type DbKind, type TestTenant } from './harness.js';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const ID_A = keyIdOf(Buffer.from(KEY_A, 'base64'));
const ID_B = keyIdOf(Buffer.from(KEY_B, 'base64'));

/** Records every value written through the API, so the suite can prove none ever comes back in a response. */
const WRITTEN_VALUES = new Set<string>();
const secretValue = (label: string) => {
  const v = `sv-${label}-${randomBytes(12).toString('hex')}`;
  WRITTEN_VALUES.add(v);
  return v;
};
const sha8 = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 8);

// Records run with no provisioner: these tests are about the secrets API, not about runtime processes.
const TENANT_ENV = { WORKSPACE_PROVISIONER: 'none' };

forEachDatabase('secrets API', (kind) => {
  let t: TestTenant;
  let cipher: SecretCipher;
  const responses: LightMyRequestResponse[] = [];

  before(async () => {
    t = await startTestTenant(kind, { env: { ...TENANT_ENV, SECRETS_ENCRYPTION_KEY: KEY_A } });
    cipher = SecretCipher.fromConfig(t.config);
  });
  after(async () => {
    await t.close();
  });

  type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
  const call = async (method: Method, url: string, headers: Record<string, string>, payload?: unknown) => {
    const res = await t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as string | object } : {}) });
    responses.push(res);
    return res;
  };
  const setWs = (id: string, key: string, value: string, headers = t.admin(), method: 'POST' | 'PUT' = 'POST') =>
    call(method, `/workspaces/${id}/secrets`, headers, { key, value });
  const setGlobal = (key: string, value: string, headers = t.admin(), method: 'POST' | 'PUT' = 'POST', base = '/settings/secrets') =>
    call(method, base, headers, { key, value });
  const counts = async () => ({
    ws: Number((await t.db.selectFrom('workspace_secrets').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    global: Number((await t.db.selectFrom('global_secrets').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    events: Number((await t.db.selectFrom('workspace_events').select(t.db.fn.countAll().as('n')).where('event_type', 'like', 'SECRET_%').executeTakeFirstOrThrow()).n),
  });
  const secretEvents = (where: { workspaceId?: string | null; key: string }) =>
    t.db
      .selectFrom('workspace_events')
      .select(['event_type', 'workspace_id', 'payload'])
      .where('event_type', 'like', 'SECRET_%')
      .where(sql<boolean>`payload->>'key' = ${where.key}`)
      .orderBy('id')
      .execute()
      .then((rows) => rows.filter((r) => where.workspaceId === undefined || r.workspace_id === where.workspaceId));

  it('sets, lists (workspace keys, then unshadowed global keys) and deletes workspace secrets', async () => {
    const ws = await t.createWorkspace();
    const set1 = await setWs(ws.id, 'OPENAI_API_KEY', secretValue('ws-openai'));
    assert.equal(set1.statusCode, 200, set1.body);
    assert.deepEqual(set1.json(), { status: 'saved', key: 'OPENAI_API_KEY' });
    const set2 = await setWs(ws.id, 'ANTHROPIC_API_KEY', secretValue('ws-anthropic'), t.admin(), 'PUT');
    assert.equal(set2.statusCode, 200, set2.body);
    assert.deepEqual(set2.json(), { status: 'saved', key: 'ANTHROPIC_API_KEY' });
    assert.equal((await setGlobal('OPENAI_API_KEY', secretValue('global-openai'))).statusCode, 200);
    assert.equal((await setGlobal('ZZ_SHARED', secretValue('global-shared'))).statusCode, 200);

    const list = await call('GET', `/workspaces/${ws.id}/secrets`, t.admin());
    assert.equal(list.statusCode, 200, list.body);
    const items = list.json() as Array<Record<string, unknown>>;
    assert.deepEqual(
      items.map((i) => [i['key'], i['scope']]),
      [
        ['ANTHROPIC_API_KEY', 'workspace'],
        ['OPENAI_API_KEY', 'workspace'],
        ['ZZ_SHARED', 'global'],
      ],
    );
    for (const item of items) {
      assert.deepEqual(Object.keys(item).sort(), ['created_at', 'has_value', 'key', 'scope', 'updated_at']);
      assert.equal(item['has_value'], true);
      assert.ok(!Number.isNaN(Date.parse(String(item['created_at']))) && String(item['updated_at']).endsWith('Z'));
    }

    const del = await call('DELETE', `/workspaces/${ws.id}/secrets/OPENAI_API_KEY`, t.admin());
    assert.equal(del.statusCode, 200, del.body);
    assert.deepEqual(del.json(), { status: 'deleted', key: 'OPENAI_API_KEY' });
    const again = await call('DELETE', `/workspaces/${ws.id}/secrets/OPENAI_API_KEY`, t.admin());
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'secret not found');
    assert.equal(again.json().code, 'SECRET_NOT_FOUND');
    // With the workspace value gone, the org-wide one shows through.
    const after = (await call('GET', `/workspaces/${ws.id}/secrets`, t.admin())).json() as Array<{ key: string; scope: string }>;
    assert.deepEqual(
      after.map((i) => [i.key, i.scope]),
      [
        ['ANTHROPIC_API_KEY', 'workspace'],
        ['OPENAI_API_KEY', 'global'],
        ['ZZ_SHARED', 'global'],
      ],
    );
    await call('DELETE', '/settings/secrets/OPENAI_API_KEY', t.admin());
    await call('DELETE', '/settings/secrets/ZZ_SHARED', t.admin());
  });

  it('an update keeps created_at and moves updated_at', async () => {
    const ws = await t.createWorkspace();
    await setWs(ws.id, 'ROTATING', secretValue('v1'));
    const first = await t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', ws.id).executeTakeFirstOrThrow();
    await new Promise((r) => setTimeout(r, 5));
    await setWs(ws.id, 'ROTATING', secretValue('v2'), t.admin(), 'PUT');
    const second = await t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', ws.id).executeTakeFirstOrThrow();
    assert.equal(new Date(second.created_at).getTime(), new Date(first.created_at).getTime());
    assert.ok(new Date(second.updated_at).getTime() > new Date(first.updated_at).getTime());
    assert.notEqual(second.ciphertext, first.ciphertext);
  });

  it('serves global secrets on /settings/secrets and the deprecated /admin/secrets alike', async () => {
    for (const base of ['/settings/secrets', '/admin/secrets']) {
      const legacy = base === '/admin/secrets';
      const key = legacy ? 'LEGACY_PATH_KEY' : 'CANONICAL_PATH_KEY';
      const post = await setGlobal(key, secretValue(`${base}-post`), t.admin(), 'POST', base);
      assert.equal(post.statusCode, 200, post.body);
      assert.deepEqual(post.json(), { status: 'saved', key, scope: 'global' });
      const put = await setGlobal(key, secretValue(`${base}-put`), t.admin(), 'PUT', base);
      assert.equal(put.statusCode, 200, put.body);
      assert.deepEqual(put.json(), { status: 'saved', key, scope: 'global' });

      const list = await call('GET', base, t.admin());
      assert.equal(list.statusCode, 200);
      const items = list.json() as Array<Record<string, unknown>>;
      const keys = items.map((i) => i['key'] as string);
      assert.deepEqual(keys, [...keys].sort(), 'ordered by key');
      const item = items.find((i) => i['key'] === key)!;
      assert.deepEqual(Object.keys(item).sort(), ['created_at', 'has_value', 'key', 'scope', 'updated_at']);
      assert.equal(item['has_value'], true);
      assert.equal(item['scope'], 'global');
      assert.equal(list.headers['deprecation'], legacy ? 'true' : undefined);
      if (legacy) assert.match(String(list.headers['link']), /<\/settings\/secrets>; rel="successor-version"/);

      const del = await call('DELETE', `${base}/${key}`, t.admin());
      assert.equal(del.statusCode, 200, del.body);
      assert.deepEqual(del.json(), { status: 'deleted', key, scope: 'global' });
      const missing = await call('DELETE', `${base}/${key}`, t.admin());
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().error, 'secret not found');
    }
  });

  it('marks the legacy operations deprecated in the OpenAPI document, with their own operationIds', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json', headers: t.admin() })).json() as {
      paths: Record<string, Record<string, { operationId: string; deprecated?: boolean }>>;
    };
    const legacy = doc.paths['/admin/secrets']!;
    assert.equal(legacy['get']!.operationId, 'listGlobalSecretsLegacy');
    assert.equal(legacy['get']!.deprecated, true);
    assert.equal(legacy['post']!.deprecated, true);
    assert.equal(doc.paths['/admin/secrets/{key}']!['delete']!.operationId, 'deleteGlobalSecretLegacy');
    assert.notEqual(doc.paths['/settings/secrets']!['get']!.deprecated, true);
    assert.equal(doc.paths['/settings/secrets']!['put']!.operationId, 'putGlobalSecret');
    assert.equal(doc.paths['/workspaces/{id}/secrets']!['post']!.operationId, 'setWorkspaceSecret');
    assert.equal(JSON.stringify(doc.paths['/workspaces/{id}/secrets']!['get']).includes('"value"'), false);
  });

  it('stores only ciphertext, under the configured key id', async () => {
    const ws = await t.createWorkspace();
    const value = secretValue('at-rest');
    await setWs(ws.id, 'AT_REST', value);
    await setGlobal('AT_REST_GLOBAL', value);
    const row = await t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', ws.id).where('key', '=', 'AT_REST').executeTakeFirstOrThrow();
    const grow = await t.db.selectFrom('global_secrets').selectAll().where('key', '=', 'AT_REST_GLOBAL').executeTakeFirstOrThrow();
    for (const r of [row, grow]) {
      assert.equal(r.key_id, ID_A);
      assert.notEqual(r.ciphertext, value);
      assert.equal(r.ciphertext.includes(value), false);
      assert.equal(Buffer.from(r.ciphertext, 'base64').toString('utf8').includes(value), false);
    }
    assert.equal(cipher.decrypt({ ciphertext: row.ciphertext, keyId: row.key_id }, workspaceSecretAad(ws.id, 'AT_REST')), value);
    await call('DELETE', '/settings/secrets/AT_REST_GLOBAL', t.admin());
  });

  it('resolves a workspace environment: global values, overridden by the workspace’s own', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const g = secretValue('precedence-global');
    const own = secretValue('precedence-own');
    const other = secretValue('precedence-other');
    await setGlobal('PRECEDENCE', g);
    await setGlobal('ONLY_GLOBAL', other);
    await setWs(a.id, 'PRECEDENCE', own);
    const envA = await resolveWorkspaceEnv(t.db, cipher, a.id);
    const envB = await resolveWorkspaceEnv(t.db, cipher, b.id);
    assert.equal(envA['PRECEDENCE'], own);
    assert.equal(envA['ONLY_GLOBAL'], other);
    assert.equal(envB['PRECEDENCE'], g);
    assert.equal(envB['ONLY_GLOBAL'], other);
    await call('DELETE', '/settings/secrets/PRECEDENCE', t.admin());
    await call('DELETE', '/settings/secrets/ONLY_GLOBAL', t.admin());
  });

  it('binds each ciphertext to its row: swapped between workspaces, keys or scopes, it refuses to decrypt', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    await setWs(a.id, 'SWAP_ME', secretValue('swap-a'));
    await setWs(b.id, 'SWAP_ME', secretValue('swap-b'));
    await setWs(b.id, 'OTHER_KEY', secretValue('swap-b-other'));
    const rowOf = (id: string, key: string) =>
      t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', id).where('key', '=', key).executeTakeFirstOrThrow();
    const ra = await rowOf(a.id, 'SWAP_ME');
    const rb = await rowOf(b.id, 'SWAP_ME');
    // Same key id and a valid ciphertext: only the AAD can tell they were moved.
    await t.db.updateTable('workspace_secrets').set({ ciphertext: rb.ciphertext }).where('workspace_id', '=', a.id).where('key', '=', 'SWAP_ME').execute();
    await assert.rejects(resolveWorkspaceEnv(t.db, cipher, a.id), (err: unknown) => {
      assert.ok(err instanceof SecretsUnreadableError);
      assert.deepEqual(err.failedKeys, ['workspace:SWAP_ME']);
      assert.equal(err.message.includes('swap-'), false, 'no value in the error');
      return true;
    });
    // Another key of the same workspace.
    await t.db.updateTable('workspace_secrets').set({ ciphertext: ra.ciphertext }).where('workspace_id', '=', a.id).where('key', '=', 'SWAP_ME').execute();
    const other = await rowOf(b.id, 'OTHER_KEY');
    await t.db.updateTable('workspace_secrets').set({ ciphertext: other.ciphertext }).where('workspace_id', '=', b.id).where('key', '=', 'SWAP_ME').execute();
    await assert.rejects(resolveWorkspaceEnv(t.db, cipher, b.id), SecretsUnreadableError);
    // Into the global scope under the same key name: every workspace's resolution fails, none returns a partial map.
    await t.db.insertInto('global_secrets').values({ key: 'SWAP_ME', ciphertext: ra.ciphertext, key_id: ra.key_id }).execute();
    const fresh = await t.createWorkspace();
    await assert.rejects(resolveWorkspaceEnv(t.db, cipher, fresh.id), (err: unknown) => err instanceof SecretsUnreadableError && err.failedKeys[0] === 'global:SWAP_ME');
    await t.db.deleteFrom('global_secrets').where('key', '=', 'SWAP_ME').execute();
    assert.deepEqual(Object.keys(await resolveWorkspaceEnv(t.db, cipher, a.id)), ['SWAP_ME']);
  });

  it('refuses bad input on every write with a 400 naming the field, and changes nothing', async () => {
    const ws = await t.createWorkspace();
    await setWs(ws.id, 'EXISTING', secretValue('existing'));
    const before = await counts();
    const bodies: Array<[unknown, string]> = [
      [{}, 'key'],
      [{ key: 'ONLY_KEY' }, 'value'],
      [{ value: 'only value' }, 'key'],
      [{ key: 'EXISTING', value: '' }, 'value'],
      [{ key: '', value: 'x' }, 'key'],
      [{ key: 'lower_case', value: 'x' }, 'key'],
      [{ key: '1STARTS_WITH_DIGIT', value: 'x' }, 'key'],
      [{ key: 'HAS-DASH', value: 'x' }, 'key'],
      [{ key: 'HAS SPACE', value: 'x' }, 'key'],
      [{ key: 'A'.repeat(129), value: 'x' }, 'key'],
      [{ key: 'OK', value: 'x'.repeat(65537) }, 'value'],
      [{ key: 'OK', value: 42 }, 'value'],
      [{ key: 'OK', value: null }, 'value'],
      [{ key: ['OK'], value: 'x' }, 'key'],
      [{ key: 'OK', value: 'x', scope: 'global' }, 'scope'],
    ];
    const targets: Array<[Method, string]> = [
      ['POST', `/workspaces/${ws.id}/secrets`],
      ['PUT', `/workspaces/${ws.id}/secrets`],
      ['POST', '/settings/secrets'],
      ['PUT', '/settings/secrets'],
      ['POST', '/admin/secrets'],
      ['PUT', '/admin/secrets'],
    ];
    for (const [method, url] of targets) {
      for (const [payload, field] of bodies) {
        const res = await call(method, url, t.admin(), payload);
        const what = `${method} ${url} ${JSON.stringify(payload).slice(0, 80)}`;
        assert.equal(res.statusCode, 400, `${what} → ${res.body}`);
        const body = res.json();
        assert.equal(body.error, 'invalid request body', what);
        assert.equal(body.code, 'VALIDATION_FAILED', what);
        assert.ok(body.field === field || (body.fields ?? []).includes(field), `${what} names ${field}: ${res.body}`);
      }
      const json = { ...t.admin(), 'content-type': 'application/json' };
      const notJson = await call(method, url, json, '{"key":');
      assert.equal(notJson.statusCode, 400, notJson.body);
      assert.equal(notJson.json().code, 'INVALID_JSON');
      for (const raw of ['["KEY","value"]', 'null', '"KEY=value"']) {
        const res = await call(method, url, json, raw);
        assert.equal(res.statusCode, 400, `${method} ${url} ${raw} → ${res.body}`);
      }
    }
    // Path parameters.
    const badId = await setWs('not-a-uuid', 'OK', 'x');
    assert.equal(badId.statusCode, 400);
    assert.equal(badId.json().error, 'invalid workspace ID');
    assert.equal(badId.json().field, 'id');
    for (const m of ['GET', 'DELETE'] as const) {
      const res = await call(m, `/workspaces/not-a-uuid/secrets${m === 'DELETE' ? '/OK' : ''}`, t.admin());
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error, 'invalid workspace ID');
    }
    const badKey = await call('DELETE', `/workspaces/${ws.id}/secrets/lower`, t.admin());
    assert.equal(badKey.statusCode, 400);
    assert.equal(badKey.json().error, 'invalid secret key');
    assert.equal(badKey.json().field, 'key');
    const badGlobalKey = await call('DELETE', '/settings/secrets/has-dash', t.admin());
    assert.equal(badGlobalKey.statusCode, 400);
    assert.equal(badGlobalKey.json().field, 'key');
    // Unknown and removed workspaces.
    const ghost = randomUUID();
    for (const res of [
      await setWs(ghost, 'OK', 'x'),
      await call('GET', `/workspaces/${ghost}/secrets`, t.admin()),
      await call('DELETE', `/workspaces/${ghost}/secrets/OK`, t.admin()),
    ]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().error, 'workspace not found');
    }
    const removed = await t.createWorkspace();
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/workspaces/${removed.id}`, headers: t.admin() })).statusCode, 200);
    const onRemoved = await setWs(removed.id, 'OK', 'x');
    assert.equal(onRemoved.statusCode, 404);
    assert.equal(onRemoved.json().error, 'workspace not found');
    assert.deepEqual(await counts(), before);
  });

  it('refuses names the platform owns (RUNTIME_COMMAND, NODE_OPTIONS, …) with a 400 naming the key, on every write, and changes nothing', async () => {
    const ws = await t.createWorkspace();
    const before = await counts();
    const reserved = ['RUNTIME_COMMAND', 'NODE_OPTIONS', 'LD_PRELOAD', 'PATH', 'BASH_ENV', 'MOLECULE_WORKSPACE_TOKEN', 'WORKSPACE_ID', 'PLATFORM_URL', 'HEARTBEAT_INTERVAL_SECONDS', 'NODE_TLS_REJECT_UNAUTHORIZED'];
    const targets: Array<[Method, string]> = [
      ['POST', `/workspaces/${ws.id}/secrets`],
      ['PUT', `/workspaces/${ws.id}/secrets`],
      ['POST', '/settings/secrets'],
      ['PUT', '/settings/secrets'],
      ['POST', '/admin/secrets'],
      ['PUT', '/admin/secrets'],
    ];
    for (const key of reserved) {
      for (const [method, url] of targets) {
        const res = await call(method, url, t.admin(), { key, value: 'echo pwned' });
        const what = `${method} ${url} ${key}`;
        assert.equal(res.statusCode, 400, `${what} → ${res.body}`);
        const body = res.json();
        assert.equal(body.code, 'VALIDATION_FAILED', what);
        assert.equal(body.error, `secret key ${key} is reserved by the platform`, what);
        assert.equal(body.field, 'key', what);
        assert.equal(body.key, key, what);
      }
    }
    // The workspace's own token is refused the same way (the attack in issue 7 used it).
    const own = await call('POST', `/workspaces/${ws.id}/secrets`, t.as(ws.auth_token), { key: 'RUNTIME_COMMAND', value: 'cat /proc/1/environ' });
    assert.equal(own.statusCode, 400, own.body);
    assert.equal(own.json().error, 'secret key RUNTIME_COMMAND is reserved by the platform');
    // The secrets map of POST /workspaces: nothing is created.
    const workspacesBefore = await t.db.selectFrom('workspaces').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const create = await call('POST', '/workspaces', t.admin(), { name: 'sneaky', secrets: { OK_KEY: 'fine', NODE_OPTIONS: '--require /tmp/evil.js' } });
    assert.equal(create.statusCode, 400, create.body);
    assert.equal(create.json().error, 'secret key NODE_OPTIONS is reserved by the platform');
    assert.equal(create.json().field, 'secrets');
    assert.equal(create.json().key, 'NODE_OPTIONS');
    const workspacesAfter = await t.db.selectFrom('workspaces').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(workspacesAfter.n), Number(workspacesBefore.n));
    assert.deepEqual(await counts(), before);
    // Look-alikes are ordinary names.
    const fine = await setWs(ws.id, 'MY_PATH', secretValue('fine'));
    assert.equal(fine.statusCode, 200, fine.body);
    await call('DELETE', `/workspaces/${ws.id}/secrets/MY_PATH`, t.admin());
  });

  it('accepts the limits exactly: a 128-character key and a 65536-character value', async () => {
    const ws = await t.createWorkspace();
    const key = `K${'_'.repeat(127)}`;
    const value = secretValue('max').padEnd(65536, 'x');
    WRITTEN_VALUES.add(value);
    const res = await setWs(ws.id, key, value);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await resolveWorkspaceEnv(t.db, cipher, ws.id))[key], value);
  });

  it('enforces roles and bindings: readers never write, editors never write org-wide, a workspace token only its own', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const reader = await t.mintKey({ role: 'reader' });
    const editor = await t.mintKey({ role: 'editor' });
    const boundAdmin = await t.mintKey({ role: 'admin', workspace_ids: [a.id] });
    await setGlobal('ROLE_GLOBAL', secretValue('role-global'));
    await setWs(a.id, 'ROLE_WS', secretValue('role-ws'));
    const before = await counts();

    const expect = async (res: LightMyRequestResponse, status: number, error?: string) => {
      assert.equal(res.statusCode, status, `${res.raw.req.method} ${res.raw.req.url} → ${res.body}`);
      if (error) assert.equal(res.json().error, error);
    };
    const R = t.as(reader.auth_token);
    const E = t.as(editor.auth_token);
    const BA = t.as(boundAdmin.auth_token);
    const WA = t.as(a.auth_token);

    // reader: every list, no write.
    await expect(await call('GET', `/workspaces/${a.id}/secrets`, R), 200);
    await expect(await call('GET', '/settings/secrets', R), 200);
    await expect(await call('GET', '/admin/secrets', R), 200);
    await expect(await setWs(a.id, 'NOPE', 'x', R), 403);
    await expect(await setWs(a.id, 'NOPE', 'x', R, 'PUT'), 403);
    await expect(await call('DELETE', `/workspaces/${a.id}/secrets/ROLE_WS`, R), 403);
    await expect(await setGlobal('NOPE', 'x', R), 403);
    await expect(await call('DELETE', '/settings/secrets/ROLE_GLOBAL', R), 403);
    // editor: workspace writes yes, org-wide writes no.
    await expect(await setGlobal('NOPE', 'x', E), 403);
    await expect(await setGlobal('NOPE', 'x', E, 'PUT', '/admin/secrets'), 403);
    await expect(await call('DELETE', '/settings/secrets/ROLE_GLOBAL', E), 403);
    await expect(await call('DELETE', '/admin/secrets/ROLE_GLOBAL', E), 403);
    await expect(await call('GET', '/settings/secrets', E), 200);
    // an admin key bound to workspace A: A's secrets yes, B's are not found, org-wide settings are out of scope.
    await expect(await call('GET', `/workspaces/${b.id}/secrets`, BA), 404, 'workspace not found');
    await expect(await setWs(b.id, 'NOPE', 'x', BA), 404, 'workspace not found');
    await expect(await setGlobal('NOPE', 'x', BA), 403);
    await expect(await call('GET', '/settings/secrets', BA), 403);
    await expect(await call('DELETE', '/settings/secrets/ROLE_GLOBAL', BA), 403);
    // workspace A's own token: its own secrets yes, B's no (401), the admin routes no.
    await expect(await setWs(b.id, 'NOPE', 'x', WA), 401, 'invalid workspace auth token');
    await expect(await call('GET', `/workspaces/${b.id}/secrets`, WA), 401);
    await expect(await call('DELETE', `/workspaces/${b.id}/secrets/ROLE_WS`, WA), 401);
    await expect(await setGlobal('NOPE', 'x', WA), 401);
    await expect(await call('GET', '/settings/secrets', WA), 401);
    // nobody at all.
    await expect(await call('GET', `/workspaces/${a.id}/secrets`, { 'x-molecule-org-id': t.orgId }), 401);
    await expect(await call('POST', '/settings/secrets', { 'x-molecule-org-id': t.orgId }, { key: 'NOPE', value: 'x' }), 401);
    assert.deepEqual(await counts(), before, 'no refused call changed anything');

    // The positive side of each rule.
    await expect(await setWs(a.id, 'BY_EDITOR', secretValue('by-editor'), E), 200);
    await expect(await setWs(a.id, 'BY_BOUND_ADMIN', secretValue('by-bound'), BA), 200);
    await expect(await setWs(a.id, 'BY_OWN_TOKEN', secretValue('by-own'), WA, 'PUT'), 200);
    await expect(await call('GET', `/workspaces/${a.id}/secrets`, WA), 200);
    await expect(await call('DELETE', `/workspaces/${a.id}/secrets/BY_OWN_TOKEN`, WA), 200);
    await expect(await call('DELETE', `/workspaces/${a.id}/secrets/BY_EDITOR`, E), 200);
    const env = await resolveWorkspaceEnv(t.db, cipher, a.id);
    assert.deepEqual(Object.keys(env).filter((k) => k.startsWith('BY_')), ['BY_BOUND_ADMIN']);
    await call('DELETE', '/settings/secrets/ROLE_GLOBAL', t.admin());
  });

  it('records SECRET_SET / SECRET_DELETED events (key, scope, value hash — never the value) and audits every write', async () => {
    const ws = await t.createWorkspace();
    const value = secretValue('event');
    const gvalue = secretValue('event-global');
    await setWs(ws.id, 'EVENTFUL', value);
    await call('DELETE', `/workspaces/${ws.id}/secrets/EVENTFUL`, t.admin());
    await setGlobal('EVENTFUL_GLOBAL', gvalue);
    await call('DELETE', '/settings/secrets/EVENTFUL_GLOBAL', t.admin());
    await call('DELETE', '/settings/secrets/EVENTFUL_GLOBAL', t.admin()); // 404: no event

    const wsEvents = await secretEvents({ workspaceId: ws.id, key: 'EVENTFUL' });
    assert.deepEqual(
      wsEvents.map((e) => [e.event_type, e.workspace_id, e.payload]),
      [
        ['SECRET_SET', ws.id, { key: 'EVENTFUL', scope: 'workspace', value_hash: cipher.valueHash(value) }],
        ['SECRET_DELETED', ws.id, { key: 'EVENTFUL', scope: 'workspace' }],
      ],
    );
    const globalEvents = await secretEvents({ workspaceId: null, key: 'EVENTFUL_GLOBAL' });
    assert.deepEqual(
      globalEvents.map((e) => [e.event_type, e.workspace_id, e.payload]),
      [
        ['SECRET_SET', null, { key: 'EVENTFUL_GLOBAL', scope: 'global', value_hash: cipher.valueHash(gvalue) }],
        ['SECRET_DELETED', null, { key: 'EVENTFUL_GLOBAL', scope: 'global' }],
      ],
    );
    const allPayloads = JSON.stringify(await t.db.selectFrom('workspace_events').select('payload').execute());
    for (const v of WRITTEN_VALUES) assert.equal(allPayloads.includes(v), false, 'no value in any event');
    // The hash is keyed: not the reference's unsalted sha256 prefix, which a reader could test guesses against.
    assert.notEqual(cipher.valueHash(value), sha8(value));
    assert.equal(allPayloads.includes(sha8(value)) || allPayloads.includes(sha8(gvalue)), false, 'no unkeyed hash in any event');

    // Each successful write wrote its audit row in its own transaction (status 200, the route pattern).
    const audit = await t.db
      .selectFrom('audit_events')
      .select(['method', 'route', 'path', 'status'])
      .where('path', 'in', [`/workspaces/${ws.id}/secrets`, `/workspaces/${ws.id}/secrets/EVENTFUL`, '/settings/secrets', '/settings/secrets/EVENTFUL_GLOBAL'])
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      audit.filter((r) => r.path.includes(ws.id)).map((r) => `${r.method} ${r.route} ${r.status}`),
      ['POST /workspaces/:id/secrets 200', 'DELETE /workspaces/:id/secrets/:key 200'],
    );
    assert.ok(audit.some((r) => r.route === '/settings/secrets/:key' && r.status === 200));
  });

  it('never returns a secret value in any response of this suite', () => {
    assert.ok(responses.length > 100, `the suite made ${responses.length} calls`);
    for (const res of responses) {
      for (const v of WRITTEN_VALUES) {
        assert.equal(res.body.includes(v), false, `${res.raw.req.method} ${res.raw.req.url} leaked a value`);
        assert.equal(JSON.stringify(res.headers).includes(v), false);
      }
    }
  });
});

// -------------------------------------------------------------------------------------------------------------
// value_hash: a keyed HMAC, and the migration of events stored with the unkeyed hash
// -------------------------------------------------------------------------------------------------------------

forEachDatabase('secret value hashes', (kind) => {
  const eventsOf = async (t: TestTenant, key: string) =>
    (await t.app.inject({ method: 'GET', url: '/events?limit=1000', headers: t.admin() })).json().filter((e: { payload: { key?: string } }) => e.payload.key === key) as Array<{
      id: number;
      payload: Record<string, unknown>;
    }>;

  it('differs between tenants with different keys for the same value, and is never sha256(value)', async () => {
    const value = secretValue('same-everywhere');
    const hashes: string[] = [];
    for (const key of [KEY_A, KEY_B, KEY_A]) {
      const t = await startTestTenant(kind, { env: { ...TENANT_ENV, SECRETS_ENCRYPTION_KEY: key } });
      try {
        const res = await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.admin(), payload: { key: 'SAME_VALUE', value } });
        assert.equal(res.statusCode, 200, res.body);
        const [event] = await eventsOf(t, 'SAME_VALUE');
        assert.ok(event);
        const hash = event.payload['value_hash'];
        assert.equal(typeof hash, 'string');
        assert.match(hash as string, /^[0-9a-f]{8}$/);
        hashes.push(hash as string);
      } finally {
        await t.close();
      }
    }
    assert.notEqual(hashes[0], sha8(value));
    assert.notEqual(hashes[1], sha8(value));
    assert.notEqual(hashes[0], hashes[1], 'tenants with different keys: different hashes of one value');
    assert.equal(hashes[0], hashes[2], 'the same key: the same hash (a value change stays detectable)');
  });

  it('migrates stored unkeyed hashes at boot: recomputed where the current value matches, removed otherwise', async () => {
    const storage = await durableStorage(kind);
    const wsId = randomUUID();
    const current = secretValue('migrated-current');
    const older = secretValue('migrated-older');
    const globalValue = secretValue('migrated-global');
    const cipherA = new SecretCipher(Buffer.from(KEY_A, 'base64'));
    try {
      // A database as the previous version left it: every migration but this one, events with sha256 prefixes.
      const config = loadTenantConfig({ ...storage.env, LOG_LEVEL: 'silent' });
      const old = await openDatabase<TenantSchema>({
        databaseUrl: config.DATABASE_URL,
        dataDir: config.DATABASE_URL ? config.MOLECULE_DATA_DIR : path.join(config.MOLECULE_DATA_DIR, 'tenant'),
        poolSize: 1,
      });
      try {
        await migrate(old.db as never, 'tenant', tenantMigrations.filter((m) => m.id !== VALUE_HASH_MIGRATION_ID));
        await old.db.insertInto('workspaces').values({ id: wsId, name: 'legacy-hashes' }).execute();
        await upsertWorkspaceSecrets(old.db, cipherA, wsId, { MIGRATED: current });
        await old.db.insertInto('global_secrets').values({ key: 'MIGRATED_GLOBAL', ...sealed(cipherA, globalValue, 'global:MIGRATED_GLOBAL') }).execute();
        await old.db
          .insertInto('workspace_events')
          .values([
            { event_type: 'SECRET_SET', workspace_id: wsId, payload: JSON.stringify({ key: 'MIGRATED', scope: 'workspace', value_hash: sha8(older) }) },
            { event_type: 'SECRET_SET', workspace_id: wsId, payload: JSON.stringify({ key: 'MIGRATED', scope: 'workspace', value_hash: sha8(current) }) },
            { event_type: 'SECRET_SET', workspace_id: null, payload: JSON.stringify({ key: 'MIGRATED_GLOBAL', scope: 'global', value_hash: sha8(globalValue) }) },
            { event_type: 'SECRET_SET', workspace_id: null, payload: JSON.stringify({ key: 'MIGRATED_GONE', scope: 'global', value_hash: sha8('deleted since') }) },
          ])
          .execute();
      } finally {
        await old.close();
      }

      const t = await startTestTenant(kind, { listen: true, env: { ...TENANT_ENV, ...storage.env, SECRETS_ENCRYPTION_KEY: KEY_A } });
      try {
        // The boot step runs once the tenant listens; whatever the API serves meanwhile carries no unkeyed hash.
        const deadline = Date.now() + 30_000;
        for (;;) {
          const served = JSON.stringify((await t.app.inject({ method: 'GET', url: '/events?limit=1000', headers: t.admin() })).json());
          for (const legacy of [sha8(current), sha8(older), sha8(globalValue)]) assert.equal(served.includes(legacy), false, 'never served');
          const waiting = await t.db.selectFrom('workspace_events').select('id').where(sql<boolean>`payload ? 'legacy_value_hash'`).execute();
          if (waiting.length === 0) break;
          assert.ok(Date.now() < deadline, 'the boot step upgraded the stored hashes');
          await new Promise((r) => setTimeout(r, 50));
        }
        const ws = await eventsOf(t, 'MIGRATED');
        assert.deepEqual(
          ws.map((e) => e.payload).reverse(),
          [
            { key: 'MIGRATED', scope: 'workspace' },
            { key: 'MIGRATED', scope: 'workspace', value_hash: cipherA.valueHash(current) },
          ],
        );
        assert.deepEqual((await eventsOf(t, 'MIGRATED_GLOBAL')).map((e) => e.payload), [
          { key: 'MIGRATED_GLOBAL', scope: 'global', value_hash: cipherA.valueHash(globalValue) },
        ]);
        assert.deepEqual((await eventsOf(t, 'MIGRATED_GONE')).map((e) => e.payload), [{ key: 'MIGRATED_GONE', scope: 'global' }]);
        const stored = JSON.stringify(await t.db.selectFrom('workspace_events').select('payload').execute());
        for (const legacy of [sha8(current), sha8(older), sha8(globalValue), sha8('deleted since')]) assert.equal(stored.includes(legacy), false, legacy);
        assert.equal(stored.includes('legacy_value_hash'), false);
        // A new write of the same value hashes the same way as the migrated event.
        const res = await t.app.inject({ method: 'PUT', url: `/workspaces/${wsId}/secrets`, headers: t.admin(), payload: { key: 'MIGRATED', value: current } });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal((await eventsOf(t, 'MIGRATED'))[0]?.payload['value_hash'], cipherA.valueHash(current));
      } finally {
        await t.close();
      }
    } finally {
      await storage.drop();
    }
  });
});

function sealed(cipher: SecretCipher, value: string, aad: string) {
  const s = cipher.encrypt(value, aad);
  return { ciphertext: s.ciphertext, key_id: s.keyId };
}

// -------------------------------------------------------------------------------------------------------------
// Key rotation: `molecule-platform secrets rotate-key`
// -------------------------------------------------------------------------------------------------------------

/** Storage that outlives one tenant process: a scratch PostgreSQL database, or a PGlite data directory. */
async function durableStorage(kind: DbKind): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  if (kind === 'postgres') {
    const scratch = await createScratchDatabase();
    return { env: { DATABASE_URL: scratch.url }, drop: () => scratch.drop() };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-rotate-'));
  return { env: { MOLECULE_DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

forEachDatabase('secrets key rotation', (kind) => {
  let storage: Awaited<ReturnType<typeof durableStorage>>;
  let wsId: string;
  const values = { ws: secretValue('rot-ws'), global: secretValue('rot-global'), second: secretValue('rot-second') };
  const start = (keys: Record<string, string>) => startTestTenant(kind, { env: { ...TENANT_ENV, ...storage.env, ...keys } });

  before(async () => {
    storage = await durableStorage(kind);
  });
  after(async () => {
    await storage.drop();
  });

  it('re-encrypts every row to the new key while tenants with both keys keep serving; a second run moves nothing', async () => {
    // 1. Written under key A.
    let t = await start({ SECRETS_ENCRYPTION_KEY: KEY_A });
    try {
      const ws = await t.createWorkspace();
      wsId = ws.id;
      for (const [method, url, body] of [
        ['POST', `/workspaces/${wsId}/secrets`, { key: 'ROT_WS', value: values.ws }],
        ['POST', `/workspaces/${wsId}/secrets`, { key: 'ROT_SECOND', value: values.second }],
        ['POST', '/settings/secrets', { key: 'ROT_GLOBAL', value: values.global }],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: t.admin(), payload: body });
        assert.equal(res.statusCode, 200, res.body);
      }
      const ids = await t.db.selectFrom('workspace_secrets').select('key_id').execute();
      assert.deepEqual([...new Set(ids.map((r) => r.key_id))], [ID_A]);
    } finally {
      await t.close();
    }

    // 2. Restarted with current = B, previous = A: old rows still read, new writes use B.
    const rotatingEnv = { SECRETS_ENCRYPTION_KEY: KEY_B, SECRETS_ENCRYPTION_KEYS_PREVIOUS: KEY_A };
    t = await start(rotatingEnv);
    let rotatingCipher = SecretCipher.fromConfig(t.config);
    try {
      assert.deepEqual(await resolveWorkspaceEnv(t.db, rotatingCipher, wsId), { ROT_GLOBAL: values.global, ROT_SECOND: values.second, ROT_WS: values.ws });
      const res = await t.app.inject({ method: 'PUT', url: `/workspaces/${wsId}/secrets`, headers: t.admin(), payload: { key: 'ROT_SECOND', value: values.second } });
      assert.equal(res.statusCode, 200);
      const second = await t.db.selectFrom('workspace_secrets').select('key_id').where('key', '=', 'ROT_SECOND').executeTakeFirstOrThrow();
      assert.equal(second.key_id, ID_B);

      if (kind === 'postgres') {
        // 3a. PostgreSQL: rotate while this tenant serves, and it keeps serving throughout.
        const [result] = await Promise.all([
          rotateSecretsKey({ ...storage.env, ...rotatingEnv, LOG_LEVEL: 'silent' }, { batchSize: 1 }),
          (async () => {
            for (let i = 0; i < 5; i++) {
              const list = await t.app.inject({ method: 'GET', url: `/workspaces/${wsId}/secrets`, headers: t.admin() });
              assert.equal(list.statusCode, 200);
              assert.equal(Object.keys(await resolveWorkspaceEnv(t.db, rotatingCipher, wsId)).length, 3);
            }
          })(),
        ]);
        assert.deepEqual({ moved: result.moved, ws: result.workspaceRows, global: result.globalRows, failed: result.failed }, { moved: 2, ws: 1, global: 1, failed: [] });
      }
    } finally {
      await t.close();
    }
    if (kind === 'pglite') {
      // 3b. The embedded database belongs to one process: rotate with the tenant stopped.
      const result = await rotateSecretsKey({ ...storage.env, ...rotatingEnv, LOG_LEVEL: 'silent' }, { batchSize: 1 });
      assert.deepEqual({ moved: result.moved, ws: result.workspaceRows, global: result.globalRows, failed: result.failed }, { moved: 2, ws: 1, global: 1, failed: [] });
    }
    const again = await rotateSecretsKey({ ...storage.env, ...rotatingEnv, LOG_LEVEL: 'silent' });
    assert.equal(again.moved, 0, 'idempotent');
    assert.equal(again.currentKeyId, ID_B);

    // 4. Only B configured: everything resolves, every row carries B's key id.
    t = await start({ SECRETS_ENCRYPTION_KEY: KEY_B });
    try {
      rotatingCipher = SecretCipher.fromConfig(t.config);
      assert.deepEqual(await resolveWorkspaceEnv(t.db, rotatingCipher, wsId), { ROT_GLOBAL: values.global, ROT_SECOND: values.second, ROT_WS: values.ws });
      const rows = [
        ...(await t.db.selectFrom('workspace_secrets').select('key_id').execute()),
        ...(await t.db.selectFrom('global_secrets').select('key_id').execute()),
      ];
      assert.equal(rows.length, 3);
      assert.deepEqual([...new Set(rows.map((r) => r.key_id))], [ID_B]);
      const list = await t.app.inject({ method: 'GET', url: `/workspaces/${wsId}/secrets`, headers: t.admin() });
      assert.equal(list.statusCode, 200);
      assert.equal(list.json().length, 3);
    } finally {
      await t.close();
    }
  });

  it('does not overwrite a value written concurrently (compare-and-set on the old ciphertext)', async () => {
    const t = await start({ SECRETS_ENCRYPTION_KEY: KEY_A });
    try {
      const ws = await t.createWorkspace();
      const oldValue = secretValue('cas-old');
      const newValue = secretValue('cas-new');
      await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/secrets`, headers: t.admin(), payload: { key: 'CAS', value: oldValue } });
      const stale = await t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', ws.id).executeTakeFirstOrThrow();
      // A tenant writes a new value between the rotation's read and its write.
      await t.app.inject({ method: 'PUT', url: `/workspaces/${ws.id}/secrets`, headers: t.admin(), payload: { key: 'CAS', value: newValue } });
      const cipherBA = new SecretCipher(Buffer.from(KEY_B, 'base64'), [Buffer.from(KEY_A, 'base64')]);
      assert.equal(await reencryptWorkspaceSecretRow(t.db, cipherBA, stale), false);
      const env = await resolveWorkspaceEnv(t.db, cipherBA, ws.id);
      assert.equal(env['CAS'], newValue, 'the concurrent write wins');
      // Rows under a key nobody configured are reported by key id, never rewritten.
      const onlyB = new SecretCipher(Buffer.from(KEY_B, 'base64'));
      const current = await t.db.selectFrom('workspace_secrets').selectAll().where('workspace_id', '=', ws.id).executeTakeFirstOrThrow();
      await assert.rejects(reencryptWorkspaceSecretRow(t.db, onlyB, current), (err: unknown) => err instanceof UnknownSecretKeyError && err.keyId === ID_A);
    } finally {
      await t.close();
    }
  });

  it('reports rows it cannot decrypt and leaves them as they are', async () => {
    const t = await start({ SECRETS_ENCRYPTION_KEY: KEY_A });
    try {
      await t.app.inject({ method: 'POST', url: '/settings/secrets', headers: t.admin(), payload: { key: 'UNREADABLE_LATER', value: secretValue('unreadable') } });
    } finally {
      await t.close();
    }
    // KEY_A is not configured at all: nothing moves, the failure names the row and the key id.
    const result = await rotateSecretsKey({ ...storage.env, SECRETS_ENCRYPTION_KEY: KEY_B, LOG_LEVEL: 'silent' });
    const failed = result.failed.find((f) => f.row === 'global:UNREADABLE_LATER');
    assert.ok(failed, JSON.stringify(result));
    assert.equal(failed.keyId, ID_A);
    assert.match(failed.reason, /SECRETS_ENCRYPTION_KEYS_PREVIOUS/);
    assert.equal(result.moved, 0);
  });

  it('a deployment still on a legacy raw 32-character key is refused at boot and migrates with rotate-key', async () => {
    const raw = `legacy-${randomBytes(12).toString('hex')}-k`.slice(0, 32);
    assert.equal(raw.length, 32);
    assert.throws(() => loadTenantConfig({ ...storage.env, SECRETS_ENCRYPTION_KEY: raw }), (err: unknown) => {
      const message = (err as Error).message;
      return /SECRETS_ENCRYPTION_KEY: must be 32 random bytes/.test(message) && message.includes('openssl rand -base64 32') && !message.includes(raw);
    });
    // Rows sealed under the raw key (as an earlier version wrote them).
    const legacyCipher = new SecretCipher(Buffer.from(raw, 'utf8'));
    const value = secretValue('legacy-raw');
    const t = await start({ SECRETS_ENCRYPTION_KEY: KEY_A });
    let wsLegacy: string;
    try {
      wsLegacy = (await t.createWorkspace()).id;
      await upsertWorkspaceSecrets(t.db, legacyCipher, wsLegacy, { LEGACY_RAW: value });
    } finally {
      await t.close();
    }
    const result = await rotateSecretsKey({ ...storage.env, SECRETS_ENCRYPTION_KEY: KEY_B, SECRETS_ENCRYPTION_KEYS_PREVIOUS: `${KEY_A},${raw}`, LOG_LEVEL: 'silent' });
    assert.deepEqual(result.failed, []);
    assert.ok(result.moved >= 1);
    const after = await start({ SECRETS_ENCRYPTION_KEY: KEY_B });
    try {
      const row = await after.db.selectFrom('workspace_secrets').select('key_id').where('key', '=', 'LEGACY_RAW').executeTakeFirstOrThrow();
      assert.equal(row.key_id, ID_B);
      assert.equal((await resolveWorkspaceEnv(after.db, SecretCipher.fromConfig(after.config), wsLegacy))['LEGACY_RAW'], value);
    } finally {
      await after.close();
    }
  });
});

describe('rotate-key needs a new key', () => {
  it('refuses to run without SECRETS_ENCRYPTION_KEY, saying what to set', async () => {
    await assert.rejects(rotateSecretsKey({ MOLECULE_DATA_DIR: 'memory://', LOG_LEVEL: 'silent' }), /set SECRETS_ENCRYPTION_KEY to the new key .* SECRETS_ENCRYPTION_KEYS_PREVIOUS/);
  });
});
