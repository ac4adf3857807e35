import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { isWellFormed } from '../src/core/credentials/format.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

forEachDatabase('org API keys', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  it('mints a key shown once, in the documented format, with provenance', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: { name: 'ci' } });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.match(body.id, /^tok_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(body.name, 'ci');
    assert.equal(body.role, 'admin');
    assert.equal(body.workspace_ids, null);
    assert.equal(body.expires_at, null);
    assert.equal(body.created_by, 'admin-token');
    assert.equal(body.warning, 'copy this token now; it will not be shown again');
    assert.equal(isWellFormed('orgKey', body.auth_token), true);
    assert.equal(body.prefix, body.auth_token.slice(0, 13));
    // At rest: only the hash and the prefix.
    const row = await t.db.selectFrom('org_api_tokens').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    assert.notEqual(row.token_hash, body.auth_token);
    assert.match(row.token_hash, /^[0-9a-f]{64}$/);
    assert.equal(JSON.stringify(row).includes(body.auth_token), false);
  });

  it('accepts an empty body and a bare POST (an unnamed admin key)', async () => {
    const bare = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin() });
    assert.equal(bare.statusCode, 200, bare.body);
    assert.equal(bare.json().name, null);
    const empty = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: { ...t.admin(), 'content-type': 'application/json' }, payload: '' });
    assert.equal(empty.statusCode, 200, empty.body);
  });

  it('a key minted by a key records the parent as created_by and can list with itself', async () => {
    const parent = await t.mintKey({ name: 'parent' });
    const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(parent.auth_token), payload: { name: 'child' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().created_by, `org-token:${parent.prefix}`);
    const list = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(res.json().auth_token) });
    assert.equal(list.statusCode, 200);
    const ids = list.json().tokens.map((k: { id: string }) => k.id);
    assert.ok(ids.includes(parent.id) && ids.includes(res.json().id));
  });

  it('lists live keys newest first with count, never a plaintext or hash', async () => {
    const a = await t.mintKey({ name: 'list-a' });
    const b = await t.mintKey({ name: 'list-b' });
    const res = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.count, body.tokens.length);
    const ids: string[] = body.tokens.map((k: { id: string }) => k.id);
    assert.ok(ids.indexOf(b.id) < ids.indexOf(a.id), 'newest first');
    assert.equal(res.body.includes(a.auth_token), false);
    assert.equal(res.body.includes('token_hash'), false);
    assert.equal(res.body.includes('auth_token'), false);
  });

  it('pages with limit and next_cursor', async () => {
    for (let i = 0; i < 3; i++) await t.mintKey({ name: `page-${i}` });
    const first = await t.app.inject({ method: 'GET', url: '/org/tokens?limit=2', headers: t.admin() });
    assert.equal(first.statusCode, 200);
    assert.equal(first.json().count, 2);
    const cursor = first.json().next_cursor;
    assert.match(cursor, /^tok_/);
    const second = await t.app.inject({ method: 'GET', url: `/org/tokens?limit=2&cursor=${cursor}`, headers: t.admin() });
    const firstIds = first.json().tokens.map((k: { id: string }) => k.id);
    for (const k of second.json().tokens) assert.equal(firstIds.includes(k.id), false);
    const bad = await t.app.inject({ method: 'GET', url: '/org/tokens?limit=0', headers: t.admin() });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'VALIDATION_FAILED');
  });

  it('refuses a name over 100 characters with the reference message, and changes nothing', async () => {
    const before = await t.db.selectFrom('org_api_tokens').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: { name: 'x'.repeat(101) } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error, 'name too long (max 100 chars)');
    assert.equal(res.json().field, 'name');
    const afterCount = await t.db.selectFrom('org_api_tokens').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(afterCount.n), Number(before.n));
  });

  it('refuses bad input on every field with a 400 naming it', async () => {
    const cases: Array<[unknown, string]> = [
      [{ role: 'owner' }, 'role'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ expires_at: new Date(Date.now() - 60_000).toISOString() }, 'expires_at'],
      [{ workspace_ids: ['not-a-uuid'] }, 'workspace_ids[0]'],
      [{ workspace_ids: [] }, 'workspace_ids'],
      [{ workspace_ids: ['7f0f3c6e-7f0f-4c6e-8f0f-3c6e7f0f3c6e'] }, 'workspace_ids'],
      [{ surprise: 1 }, 'surprise'],
      [{ name: 42 }, 'name'],
    ];
    for (const [payload, field] of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: payload as object });
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
      const body = res.json();
      assert.equal(body.code, 'VALIDATION_FAILED');
      assert.ok(body.field === field || (body.fields ?? []).includes(field), `${JSON.stringify(payload)} names ${field}: ${res.body}`);
    }
    const junk = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: { ...t.admin(), 'content-type': 'application/json' }, payload: '{"name":' });
    assert.equal(junk.statusCode, 400);
    assert.deepEqual([junk.json().error, junk.json().code], ['invalid JSON body', 'INVALID_JSON']);
  });

  it('revokes on the very next request; a second revoke and an unknown id are 404; a malformed id is 400', async () => {
    const key = await t.mintKey({ name: 'to-revoke' });
    const ok = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(key.auth_token) });
    assert.equal(ok.statusCode, 200);
    const del = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${key.id}`, headers: t.admin() });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), { revoked: key.id });
    const after = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(key.auth_token) });
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().error, 'invalid admin auth token');
    const again = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${key.id}`, headers: t.admin() });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'token not found or already revoked');
    const unknown = await t.app.inject({ method: 'DELETE', url: '/org/tokens/tok_01ARZ3NDEKTSV4RRFFQ69G5FAV', headers: t.admin() });
    assert.equal(unknown.statusCode, 404);
    const malformed = await t.app.inject({ method: 'DELETE', url: '/org/tokens/not-an-id', headers: t.admin() });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error, 'invalid token id');
  });

  it('a key may revoke itself', async () => {
    const key = await t.mintKey({ name: 'self' });
    const del = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${key.id}`, headers: t.as(key.auth_token) });
    assert.equal(del.statusCode, 200);
    const after = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(key.auth_token) });
    assert.equal(after.statusCode, 401);
  });

  it('expired keys fail like revoked ones and are not listed', async () => {
    const key = await t.mintKey({ name: 'short', expires_at: new Date(Date.now() + 60_000).toISOString() });
    assert.ok(key.expires_at);
    const ok = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) });
    assert.equal(ok.statusCode, 200);
    await t.db.updateTable('org_api_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', key.id).execute();
    const denied = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.json().error, 'invalid admin auth token');
    const list = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() });
    assert.equal(list.json().tokens.some((k: { id: string }) => k.id === key.id), false);
  });

  it('roles: reader reads only, editor cannot manage keys, nobody mints above themselves', async () => {
    const reader = await t.mintKey({ role: 'reader' });
    const editor = await t.mintKey({ role: 'editor' });
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(reader.auth_token) })).statusCode, 200);
    const readerWrite = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.as(reader.auth_token), payload: { name: 'nope' } });
    assert.equal(readerWrite.statusCode, 403);
    assert.equal(readerWrite.json().code, 'ROLE_FORBIDDEN');
    const editorWrite = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.as(editor.auth_token), payload: { name: 'editor-made' } });
    assert.equal(editorWrite.statusCode, 201);
    const editorMint = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(editor.auth_token), payload: { role: 'reader' } });
    assert.equal(editorMint.statusCode, 403);
    const editorRevoke = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${reader.id}`, headers: t.as(editor.auth_token) });
    assert.equal(editorRevoke.statusCode, 403);
  });

  it('workspace binding: a bound key sees only its workspaces and mints only within them', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const bound = await t.mintKey({ workspace_ids: [a.id] });
    assert.deepEqual(bound.workspace_ids, [a.id]);
    const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(bound.auth_token) });
    assert.deepEqual(list.json().map((w: { id: string }) => w.id), [a.id]);
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${a.id}`, headers: t.as(bound.auth_token) })).statusCode, 200);
    const other = await t.app.inject({ method: 'GET', url: `/workspaces/${b.id}`, headers: t.as(bound.auth_token) });
    assert.equal(other.statusCode, 404);
    assert.equal(other.json().error, 'workspace not found');
    const wider = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(bound.auth_token), payload: { workspace_ids: [a.id, b.id] } });
    assert.equal(wider.statusCode, 403);
    const unbound = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(bound.auth_token), payload: { workspace_ids: null } });
    assert.equal(unbound.statusCode, 403);
    const inherited = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(bound.auth_token), payload: { role: 'reader' } });
    assert.equal(inherited.statusCode, 200);
    assert.deepEqual(inherited.json().workspace_ids, [a.id]);
    // Keys outside the binding are invisible and cannot be revoked by it.
    const wide = await t.mintKey({ name: 'org-wide' });
    const seen = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(bound.auth_token) });
    assert.equal(seen.json().tokens.some((k: { id: string }) => k.id === wide.id), false);
    const revokeWide = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${wide.id}`, headers: t.as(bound.auth_token) });
    assert.equal(revokeWide.statusCode, 404);
  });

  it('rotation: a new key with the same scope; the old one works until the grace ends', async () => {
    const a = await t.createWorkspace();
    const old = await t.mintKey({ name: 'deploy', role: 'editor', workspace_ids: [a.id] });
    const res = await t.app.inject({ method: 'POST', url: `/org/tokens/${old.id}/rotate`, headers: t.admin(), payload: { grace_seconds: 600 } });
    assert.equal(res.statusCode, 200, res.body);
    const rotated = res.json();
    assert.notEqual(rotated.auth_token, old.auth_token);
    assert.deepEqual([rotated.name, rotated.role, rotated.workspace_ids, rotated.rotated_from], ['deploy', 'editor', [a.id], old.id]);
    const left = new Date(rotated.previous_expires_at).getTime() - Date.now();
    assert.ok(left > 590_000 && left <= 600_000, `grace ends in ~600 s, got ${left} ms`);
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(old.auth_token) })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(rotated.auth_token) })).statusCode, 200);
    // Past the grace (moved into the past in the store) the old key is rejected.
    await t.db.updateTable('org_api_tokens').set({ expires_at: new Date(Date.now() - 1) }).where('id', '=', old.id).execute();
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(old.auth_token) })).statusCode, 401);
  });

  it('rotation with grace_seconds 0 revokes the old key at once; bad grace is 400; unknown is 404', async () => {
    const old = await t.mintKey({ name: 'now' });
    const res = await t.app.inject({ method: 'POST', url: `/org/tokens/${old.id}/rotate`, headers: t.admin(), payload: { grace_seconds: 0 } });
    assert.equal(res.statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(old.auth_token) })).statusCode, 401);
    const neg = await t.app.inject({ method: 'POST', url: `/org/tokens/${res.json().id}/rotate`, headers: t.admin(), payload: { grace_seconds: -1 } });
    assert.equal(neg.statusCode, 400);
    assert.equal(neg.json().field, 'grace_seconds');
    const gone = await t.app.inject({ method: 'POST', url: `/org/tokens/${old.id}/rotate`, headers: t.admin(), payload: {} });
    assert.equal(gone.statusCode, 404);
  });

  it('records last_used_at behind the request (written within about a second)', async () => {
    const key = await t.mintKey({ name: 'usage' });
    const res = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) });
    assert.equal(res.statusCode, 200);
    let lastUsed: Date | null = null;
    for (let i = 0; i < 40 && !lastUsed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const row = await t.db.selectFrom('org_api_tokens').select('last_used_at').where('id', '=', key.id).executeTakeFirstOrThrow();
      lastUsed = row.last_used_at;
    }
    assert.ok(lastUsed instanceof Date, 'last_used_at was written');
    assert.ok(Math.abs(lastUsed.getTime() - Date.now()) < 10_000);
  });
});

forEachDatabase('org API key mint rate limit', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { env: { ORG_TOKEN_MINT_LIMIT: '10' } });
  });
  after(() => t.close());

  it('allows 10 mints per hour per client, then 429 with Retry-After; other clients are unaffected', async () => {
    const other = await t.mintKey({ name: 'other-client' });
    for (let i = 1; i < 10; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: { name: `n${i}` } });
      assert.equal(res.statusCode, 200, `mint ${i + 1}`);
      assert.equal(res.headers['x-ratelimit-limit'], '10');
    }
    const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: { name: 'eleven' } });
    assert.equal(res.statusCode, 429);
    assert.equal(res.json().error, 'rate limit exceeded');
    assert.equal(res.json().code, 'RATE_LIMITED');
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After about an hour, got ${retryAfter}`);
    assert.equal(res.json().retry_after, retryAfter);
    // Nothing was minted by the refused call.
    const names = await t.db.selectFrom('org_api_tokens').select('name').where('name', '=', 'eleven').execute();
    assert.equal(names.length, 0);
    const fromOther = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(other.auth_token), payload: { name: 'by-other' } });
    assert.equal(fromOther.statusCode, 200);
  });
});
