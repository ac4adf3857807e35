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

/**
 * A key's lifetime is part of "no wider than itself" (issue 7, item 6): an expiring key never mints or rotates into
 * a key that outlives it, and the key a rotation retires can no longer manage keys during its grace window.
 */
forEachDatabase('org API key lifetime', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();
  const storedExpiry = async (id: string) =>
    (await t.db.selectFrom('org_api_tokens').select('expires_at').where('id', '=', id).executeTakeFirstOrThrow()).expires_at?.toISOString() ?? null;
  const mintAs = (bearer: string, payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.as(bearer), payload });
  const rotateAs = (headers: Record<string, string>, id: string, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: `/org/tokens/${id}/rotate`, headers, payload });

  it('an expiring key mints no key that outlives it: no expiry or a later one is clamped to its own, and the response says so', async () => {
    const parentExpiry = inMinutes(30);
    const parent = await t.mintKey({ name: 'expiring-parent', expires_at: parentExpiry });
    assert.equal(parent.expires_at, parentExpiry);

    const unexpiring = await mintAs(parent.auth_token, { name: 'asks-for-forever' });
    assert.equal(unexpiring.statusCode, 200, unexpiring.body);
    assert.equal(unexpiring.json().expires_at, parentExpiry);
    assert.equal(await storedExpiry(unexpiring.json().id), parentExpiry);

    const explicitNull = await mintAs(parent.auth_token, { name: 'explicit-null', expires_at: null });
    assert.equal(explicitNull.statusCode, 200, explicitNull.body);
    assert.equal(explicitNull.json().expires_at, parentExpiry);

    const later = await mintAs(parent.auth_token, { name: 'asks-for-later', expires_at: inMinutes(600) });
    assert.equal(later.statusCode, 200, later.body);
    assert.equal(later.json().expires_at, parentExpiry);
    assert.equal(await storedExpiry(later.json().id), parentExpiry);

    // Shorter than the parent's is kept as asked.
    const sooner = inMinutes(10);
    const shorter = await mintAs(parent.auth_token, { name: 'asks-for-sooner', expires_at: sooner });
    assert.equal(shorter.statusCode, 200, shorter.body);
    assert.equal(shorter.json().expires_at, sooner);

    // Unexpiring callers are not clamped.
    const free = await t.mintKey({ name: 'unexpiring' });
    assert.equal(free.expires_at, null);
    const child = await mintAs(free.auth_token, { name: 'child-of-unexpiring' });
    assert.equal(child.json().expires_at, null);
  });

  it('rotation inherits the old key’s expiry; an expiring caller cannot extend it, an unexpiring admin can by naming expires_at', async () => {
    const oldExpiry = inMinutes(45);
    const old = await t.mintKey({ name: 'rotate-inherits', expires_at: oldExpiry });

    // Self-rotation with no expires_at: the new key ends when the old one would have.
    const self = await rotateAs(t.as(old.auth_token), old.id, { grace_seconds: 60 });
    assert.equal(self.statusCode, 200, self.body);
    assert.equal(self.json().expires_at, oldExpiry);
    assert.equal(await storedExpiry(self.json().id), oldExpiry);

    // Self-rotation asking for longer (or for none): clamped to the old key's (its own) expiry.
    const old2Expiry = inMinutes(20);
    const old2 = await t.mintKey({ name: 'rotate-extend', expires_at: old2Expiry });
    const extend = await rotateAs(t.as(old2.auth_token), old2.id, { grace_seconds: 60, expires_at: inMinutes(6000) });
    assert.equal(extend.statusCode, 200, extend.body);
    assert.equal(extend.json().expires_at, old2Expiry);
    const old3Expiry = inMinutes(25);
    const old3 = await t.mintKey({ name: 'rotate-forever', expires_at: old3Expiry });
    const forever = await rotateAs(t.as(old3.auth_token), old3.id, { grace_seconds: 60, expires_at: null });
    assert.equal(forever.statusCode, 200, forever.body);
    assert.equal(forever.json().expires_at, old3Expiry);

    // An unexpiring admin rotating an expiring key: inherited by default...
    const old4Expiry = inMinutes(15);
    const old4 = await t.mintKey({ name: 'admin-rotates', expires_at: old4Expiry });
    const inherited = await rotateAs(t.admin(), old4.id, { grace_seconds: 60 });
    assert.equal(inherited.statusCode, 200, inherited.body);
    assert.equal(inherited.json().expires_at, old4Expiry);
    // ...and extended only when it says so explicitly, to a date or to no expiry.
    const old5 = await t.mintKey({ name: 'admin-extends', expires_at: inMinutes(15) });
    const longer = inMinutes(9000);
    const extended = await rotateAs(t.admin(), old5.id, { grace_seconds: 60, expires_at: longer });
    assert.equal(extended.json().expires_at, longer);
    const old6 = await t.mintKey({ name: 'admin-unexpires', expires_at: inMinutes(15) });
    const unexpired = await rotateAs(t.admin(), old6.id, { grace_seconds: 60, expires_at: null });
    assert.equal(unexpired.json().expires_at, null);

    // An expiring admin key rotating an unexpiring key: the new key ends with the caller.
    const callerExpiry = inMinutes(35);
    const caller = await t.mintKey({ name: 'expiring-rotator', expires_at: callerExpiry });
    const target = await t.mintKey({ name: 'unexpiring-target' });
    const clamped = await rotateAs(t.as(caller.auth_token), target.id, { grace_seconds: 0 });
    assert.equal(clamped.statusCode, 200, clamped.body);
    assert.equal(clamped.json().expires_at, callerExpiry);
    const clampedExplicit = await rotateAs(t.as(caller.auth_token), clamped.json().id, { grace_seconds: 0, expires_at: null });
    assert.equal(clampedExplicit.json().expires_at, callerExpiry);
  });

  it('the retiring key of a rotation can no longer mint, rotate or revoke (403 KEY_RETIRING), but keeps working until its grace ends', async () => {
    const ws = await t.createWorkspace();
    const old = await t.mintKey({ name: 'retiring', expires_at: inMinutes(60) });
    const bystander = await t.mintKey({ name: 'bystander', role: 'reader' });
    const rotated = await rotateAs(t.as(old.auth_token), old.id, { grace_seconds: 600 });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const replacement = rotated.json() as { id: string; auth_token: string };

    const assertRetiring = (res: { statusCode: number; json(): Record<string, unknown>; body: string }) => {
      assert.equal(res.statusCode, 403, res.body);
      const body = res.json();
      assert.equal(body['code'], 'KEY_RETIRING');
      assert.equal(body['error'], 'this key has been rotated and is retiring; it can no longer manage keys — use its replacement');
      assert.equal(body['replaced_by'], replacement.id);
      assert.equal(typeof body['request_id'], 'string');
    };
    const countKeys = async () => Number((await t.db.selectFrom('org_api_tokens').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const keysBefore = await countKeys();

    // The reproduction: the old key revokes its replacement during the grace window.
    assertRetiring(await t.app.inject({ method: 'DELETE', url: `/org/tokens/${replacement.id}`, headers: t.as(old.auth_token) }));
    assertRetiring(await t.app.inject({ method: 'DELETE', url: `/org/tokens/${bystander.id}`, headers: t.as(old.auth_token) }));
    assertRetiring(await mintAs(old.auth_token, { name: 'from-retiring' }));
    assertRetiring(await rotateAs(t.as(old.auth_token), replacement.id, { grace_seconds: 0 }));
    assertRetiring(await rotateAs(t.as(old.auth_token), old.id, { grace_seconds: 0 }));
    assert.equal(await countKeys(), keysBefore, 'nothing was minted');
    const live = await t.db.selectFrom('org_api_tokens').select(['id', 'revoked_at']).where('id', 'in', [replacement.id, bystander.id]).execute();
    assert.deepEqual(live.map((r) => r.revoked_at), [null, null], 'nothing was revoked');
    assert.equal((await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(replacement.auth_token) })).statusCode, 200);

    // Other work continues until the grace ends, including reading the key list and acting on workspaces.
    assert.equal((await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(old.auth_token) })).statusCode, 200);
    const listed = (await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.admin() })).json().tokens as Array<{ id: string; replaced_by: string | null }>;
    assert.equal(listed.find((k) => k.id === old.id)?.replaced_by, replacement.id);
    assert.equal(listed.find((k) => k.id === replacement.id)?.replaced_by, null);
    const patch = await t.app.inject({ method: 'PATCH', url: `/workspaces/${ws.id}`, headers: t.as(old.auth_token), payload: { role: 'still-working' } });
    assert.equal(patch.statusCode, 200, patch.body);

    // It may still end its own overlap early: revoking itself widens nothing.
    const selfRevoke = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${old.id}`, headers: t.as(old.auth_token) });
    assert.equal(selfRevoke.statusCode, 200, selfRevoke.body);
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(old.auth_token) })).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(replacement.auth_token) })).statusCode, 200);
  });

  it('a key retired by someone else’s rotation is retiring too; the replacement manages keys normally', async () => {
    const old = await t.mintKey({ name: 'retired-by-admin' });
    const rotated = await rotateAs(t.admin(), old.id, { grace_seconds: 600 });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const replacement = rotated.json() as { id: string; auth_token: string; replaced_by: string | null };
    assert.equal(replacement.replaced_by, null);
    const refused = await mintAs(old.auth_token, {});
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().code, 'KEY_RETIRING');
    const fromReplacement = await mintAs(replacement.auth_token, { name: 'from-replacement', role: 'reader' });
    assert.equal(fromReplacement.statusCode, 200, fromReplacement.body);
    // The replacement may revoke the retiring key at once.
    const revokeOld = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${old.id}`, headers: t.as(replacement.auth_token) });
    assert.equal(revokeOld.statusCode, 200, revokeOld.body);
  });
});
