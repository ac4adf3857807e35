/**
 * Idempotency-Key on every POST of both services (issue 13; src/core/http/idempotency.ts): a retry with the same key
 * replays the first answer and does nothing twice; another request under the key is 422; a key still in flight is
 * 409; 5xx answers are not kept; rows expire after 24 h; nothing plaintext is stored.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { idempotencyDb, KyselyIdempotencyStore } from '../src/core/http/idempotency-store.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { startTestControlPlane, uniqueSlug, type TestControlPlane } from './cp-harness.js';

const HOUR = 60 * 60 * 1000;

forEachDatabase('Idempotency-Key: tenant', (kind) => {
  let t: TestTenant;
  before(async () => {
    // Listening too: one case goes over real HTTP (the body is read from a socket, in chunks).
    t = await startTestTenant(kind, { listen: true });
  });
  after(() => t.close());

  const workspaceCount = async (name: string) => (await t.db.selectFrom('workspaces').select('id').where('name', '=', name).execute()).length;
  const keyed = (key: string, bearer?: string) => ({ ...(bearer ? t.as(bearer) : t.admin()), 'idempotency-key': key });
  const createWorkspace = (key: string, name: string, bearer?: string) =>
    t.app.inject({ method: 'POST', url: '/workspaces', headers: keyed(key, bearer), payload: { name } });
  // Org keys, unlike workspaces, may share a name: a request that runs twice leaves two rows to count.
  const tokenCount = async (name: string) => (await t.db.selectFrom('org_api_tokens').select('id').where('name', '=', name).execute()).length;
  const mint = (key: string, name: string, bearer?: string) => t.app.inject({ method: 'POST', url: '/org/tokens', headers: keyed(key, bearer), payload: { name } });

  it('a retry replays the first response byte for byte and creates one workspace, with one audit row', async () => {
    const key = randomUUID();
    const name = `idem-${randomUUID().slice(0, 8)}`;
    const first = await createWorkspace(key, name);
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const second = await createWorkspace(key, name);
    assert.equal(second.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
    assert.equal(second.headers['content-type'], first.headers['content-type']);
    assert.notEqual(second.headers['x-request-id'], first.headers['x-request-id']);
    assert.equal(await workspaceCount(name), 1);
    // The create wrote its audit event in its transaction; the replay wrote none (GET /audit/verify flushes the rows
    // written behind first).
    assert.equal((await t.app.inject({ method: 'GET', url: '/audit/verify', headers: t.admin() })).statusCode, 200);
    const audited = await t.db
      .selectFrom('audit_events')
      .select('request_id')
      .where('request_id', 'in', [String(first.headers['x-request-id']), String(second.headers['x-request-id'])])
      .execute();
    assert.deepEqual(audited.map((r) => r.request_id), [first.headers['x-request-id']]);
  });

  it('over real HTTP, a chunked body: the retry replays and the key is told apart by its bytes', async () => {
    const key = randomUUID();
    const name = `http-${randomUUID().slice(0, 8)}`;
    const send = (payload: string) =>
      fetch(`${t.url}/org/tokens`, {
        method: 'POST',
        headers: { ...keyed(key), 'content-type': 'application/json' },
        // A stream: sent chunked, so the body arrives in pieces the hook must put back together.
        body: new Blob([payload.slice(0, 5), payload.slice(5)]).stream(),
        duplex: 'half',
      } as RequestInit);
    const body = JSON.stringify({ name });
    const first = await send(body);
    const firstText = await first.text();
    assert.equal(first.status, 200, firstText);
    const second = await send(body);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(await second.text(), firstText);
    assert.equal(await tokenCount(name), 1);
    // The same JSON spelled differently is a different request: the fingerprint is over bytes.
    const respelled = await send(JSON.stringify({ name }, null, 1));
    assert.equal(respelled.status, 422);
    assert.equal(((await respelled.json()) as { code: string }).code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await tokenCount(name), 1);
  });

  it('without the header, nothing changes: two POSTs are two keys', async () => {
    const name = `plain-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: { name } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['idempotent-replayed'], undefined);
    }
    assert.equal(await tokenCount(name), 2);
  });

  it('POST /org/tokens twice: one key, the same plaintext, and the stored row holds neither it nor the bearer', async () => {
    const key = `mint-${randomUUID()}`;
    const before = (await t.db.selectFrom('org_api_tokens').select('id').execute()).length;
    const first = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: keyed(key), payload: { name: 'idem' } });
    assert.equal(first.statusCode, 200, first.body);
    const second = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: keyed(key), payload: { name: 'idem' } });
    assert.equal(second.statusCode, 200);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    const minted = first.json() as { id: string; auth_token: string };
    assert.equal((second.json() as { auth_token: string }).auth_token, minted.auth_token);
    assert.equal((await t.db.selectFrom('org_api_tokens').select('id').execute()).length, before + 1);

    const rows = await t.db.selectFrom('idempotency_keys').selectAll().execute();
    assert.ok(rows.length > 0);
    const dump = JSON.stringify(rows);
    for (const secret of [minted.auth_token, t.adminToken, key, minted.id]) {
      assert.equal(dump.includes(secret), false, 'no plaintext in the idempotency table');
      for (const row of rows) assert.equal(Buffer.from(row.response ?? '', 'base64').includes(Buffer.from(secret)), false, 'no plaintext inside the stored response either');
    }
    for (const row of rows) {
      assert.match(row.id, /^[0-9a-f]{64}$/);
      assert.match(row.fingerprint, /^[0-9a-f]{64}$/);
    }
  });

  it('the same key with another body is 422 IDEMPOTENCY_KEY_REUSED and does nothing', async () => {
    const key = randomUUID();
    const name = `reuse-${randomUUID().slice(0, 8)}`;
    assert.equal((await createWorkspace(key, name)).statusCode, 201);
    const other = await createWorkspace(key, `${name}-other`);
    assert.equal(other.statusCode, 422);
    const body = other.json() as { code: string; error: string; request_id: string };
    assert.equal(body.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(body.error, 'this Idempotency-Key was used with a different request');
    assert.equal(body.request_id, other.headers['x-request-id']);
    assert.equal(await workspaceCount(`${name}-other`), 0);
  });

  it('another credential with the same key is simply another key', async () => {
    const minted = await t.mintKey({ name: 'other-caller' });
    const key = randomUUID();
    const name = `scope-${randomUUID().slice(0, 8)}`;
    const mine = await mint(key, name);
    const theirs = await mint(key, name, minted.auth_token);
    assert.equal(mine.statusCode, 200);
    assert.equal(theirs.statusCode, 200);
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    assert.notEqual((theirs.json() as { id: string }).id, (mine.json() as { id: string }).id);
    assert.equal(await tokenCount(name), 2);
    // Each caller replays its own.
    const again = await mint(key, name, minted.auth_token);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.body, theirs.body);
    assert.equal(await tokenCount(name), 2);
  });

  it('a bad credential is refused before anything is recorded', async () => {
    const key = randomUUID();
    const rowsBefore = (await t.db.selectFrom('idempotency_keys').select('id').execute()).length;
    const res = await createWorkspace(key, 'never', 'mola_not_a_real_key');
    assert.equal(res.statusCode, 401);
    assert.equal((res.json() as { code: string }).code, 'INVALID_ADMIN_AUTH');
    assert.equal((await t.db.selectFrom('idempotency_keys').select('id').execute()).length, rowsBefore);
  });

  it('a key still in flight is 409 IDEMPOTENCY_KEY_IN_USE with Retry-After; an abandoned one (> 60 s) is taken over', async () => {
    const key = randomUUID();
    const name = `flight-${randomUUID().slice(0, 8)}`;
    const first = await mint(key, name);
    assert.equal(first.statusCode, 200);
    // Make its row look like a request still running: the row the first request wrote is the newest one.
    const row = await t.db.selectFrom('idempotency_keys').select(['id', 'created_at']).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    await t.db.updateTable('idempotency_keys').set({ state: 'in_flight', response: null, locked_at: new Date() }).where('id', '=', row.id).execute();
    const busy = await mint(key, name);
    assert.equal(busy.statusCode, 409);
    assert.equal(busy.headers['retry-after'], '1');
    assert.equal((busy.json() as { code: string }).code, 'IDEMPOTENCY_KEY_IN_USE');
    assert.equal(await tokenCount(name), 1);
    // Its process died two minutes ago: the next attempt takes the key over and runs.
    await t.db.updateTable('idempotency_keys').set({ locked_at: new Date(Date.now() - 2 * 60_000) }).where('id', '=', row.id).execute();
    const taken = await mint(key, name);
    assert.equal(taken.statusCode, 200);
    assert.equal(taken.headers['idempotent-replayed'], undefined);
    assert.equal(await tokenCount(name), 2);
    const replay = await mint(key, name);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body, taken.body);
  });

  it('concurrent duplicates: one runs, the others get 409 or its replay', async () => {
    const key = randomUUID();
    const name = `race-${randomUUID().slice(0, 8)}`;
    const answers = await Promise.all(Array.from({ length: 4 }, () => createWorkspace(key, name)));
    const ran = answers.filter((r) => r.statusCode === 201 && r.headers['idempotent-replayed'] === undefined);
    assert.equal(ran.length, 1, answers.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
    for (const r of answers) {
      if (r === ran[0]) continue;
      if (r.statusCode === 409) assert.equal((r.json() as { code: string }).code, 'IDEMPOTENCY_KEY_IN_USE');
      else {
        assert.equal(r.statusCode, 201);
        assert.equal(r.headers['idempotent-replayed'], 'true');
        assert.equal(r.body, ran[0]!.body);
      }
    }
    assert.equal(await workspaceCount(name), 1);
  });

  it('5xx answers are not kept: the key is released and a retry runs again', async () => {
    const ws = await t.createWorkspace();
    const key = randomUUID();
    const rowsBefore = (await t.db.selectFrom('idempotency_keys').select('id').execute()).length;
    // No workspace provisioner in this suite: a restart is 503 PROVISIONER_UNAVAILABLE.
    const first = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/restart`, headers: keyed(key) });
    assert.equal(first.statusCode, 503, first.body);
    assert.equal((first.json() as { code: string }).code, 'PROVISIONER_UNAVAILABLE');
    assert.equal((await t.db.selectFrom('idempotency_keys').select('id').execute()).length, rowsBefore);
    const second = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/restart`, headers: keyed(key) });
    assert.equal(second.statusCode, 503);
    assert.equal(second.headers['idempotent-replayed'], undefined);
  });

  it('4xx answers from the handler are kept and replayed', async () => {
    const key = randomUUID();
    const missing = randomUUID();
    const first = await t.app.inject({ method: 'POST', url: `/workspaces/${missing}/pause`, headers: keyed(key) });
    assert.equal(first.statusCode, 404, first.body);
    const second = await t.app.inject({ method: 'POST', url: `/workspaces/${missing}/pause`, headers: keyed(key) });
    assert.equal(second.statusCode, 404);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
  });

  it('after 24 h the key is forgotten: the request runs again', async () => {
    const key = randomUUID();
    const name = `expire-${randomUUID().slice(0, 8)}`;
    assert.equal((await mint(key, name)).statusCode, 200);
    const row = await t.db.selectFrom('idempotency_keys').select('id').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    await t.db.updateTable('idempotency_keys').set({ created_at: new Date(Date.now() - 25 * HOUR) }).where('id', '=', row.id).execute();
    const again = await mint(key, name);
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers['idempotent-replayed'], undefined);
    assert.equal(await tokenCount(name), 2);
  });

  it('the purge deletes rows older than 24 h and keeps the rest', async () => {
    const store = new KyselyIdempotencyStore(idempotencyDb(t.db));
    const old = await mint(randomUUID(), `purge-${randomUUID().slice(0, 8)}`);
    assert.equal(old.statusCode, 200);
    const row = await t.db.selectFrom('idempotency_keys').select('id').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    await t.db.updateTable('idempotency_keys').set({ created_at: new Date(Date.now() - 25 * HOUR) }).where('id', '=', row.id).execute();
    const fresh = (await t.db.selectFrom('idempotency_keys').select('id').where('created_at', '>', new Date(Date.now() - HOUR)).execute()).length;
    assert.ok(fresh > 0);
    assert.ok((await store.purgeCreatedBefore(new Date(Date.now() - 24 * HOUR))) >= 1);
    assert.equal(await t.db.selectFrom('idempotency_keys').select('id').where('id', '=', row.id).executeTakeFirst(), undefined);
    assert.equal((await t.db.selectFrom('idempotency_keys').select('id').where('created_at', '>', new Date(Date.now() - HOUR)).execute()).length, fresh);
  });

  it('a tampered stored response is never served: it counts as absent', async () => {
    const key = randomUUID();
    const name = `tamper-${randomUUID().slice(0, 8)}`;
    const first = await mint(key, name);
    assert.equal(first.statusCode, 200);
    const row = await t.db.selectFrom('idempotency_keys').selectAll().orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    const bytes = Buffer.from(row.response ?? '', 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
    await t.db.updateTable('idempotency_keys').set({ response: bytes.toString('base64') }).where('id', '=', row.id).execute();
    const again = await mint(key, name);
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers['idempotent-replayed'], undefined);
    assert.notEqual(again.body, first.body);
    assert.equal(await tokenCount(name), 2);
  });

  it('a malformed Idempotency-Key is 400 naming the header, and nothing is created', async () => {
    const name = `bad-${randomUUID().slice(0, 8)}`;
    for (const key of ['a'.repeat(256), 'tab\there', '']) {
      const res = await createWorkspace(key, name);
      assert.equal(res.statusCode, 400, `${JSON.stringify(key)}: ${res.body}`);
      const body = res.json() as { code: string; detail: string; field: string };
      assert.equal(body.code, 'VALIDATION_FAILED');
      assert.equal(body.field, 'idempotency-key');
      assert.match(body.detail, /^idempotency-key /);
    }
    assert.equal(await workspaceCount(name), 0);
    const longest = await createWorkspace('k'.repeat(255), name);
    assert.equal(longest.statusCode, 201);
  });

  it('documents the header on POST operations and in the description', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json', headers: t.admin() })).json() as {
      info: { description: string };
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean }> }>>;
    };
    assert.match(doc.info.description, /Idempotency-Key/);
    const post = doc.paths['/workspaces']?.['post'];
    const header = post?.parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key');
    assert.ok(header, 'POST /workspaces lists the Idempotency-Key header');
    assert.notEqual(header.required, true);
    const get = doc.paths['/workspaces']?.['get'];
    assert.equal(get?.parameters?.some((p) => p.name === 'idempotency-key') ?? false, false);
  });
});

forEachDatabase('Idempotency-Key: control plane', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind);
  });
  after(() => cp.close());

  it('POST /api/v1/orgs replays: one org, the same body', async () => {
    const owner = await cp.signup();
    const key = randomUUID();
    const slug = uniqueSlug('idem');
    const send = () => cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: { ...cp.as(owner), 'idempotency-key': key }, payload: { slug, name: `Org ${slug}` } });
    const first = await send();
    assert.equal(first.statusCode, 201, first.body);
    const second = await send();
    assert.equal(second.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
    assert.equal((await cp.db.selectFrom('organizations').select('id').where('slug', '=', slug).execute()).length, 1);
    // Another slug under the same key: 422, and no org.
    const other = await cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: { ...cp.as(owner), 'idempotency-key': key }, payload: { slug: `${slug}-b`, name: 'B' } });
    assert.equal(other.statusCode, 422);
    assert.equal((other.json() as { code: string }).code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal((await cp.db.selectFrom('organizations').select('id').where('slug', '=', `${slug}-b`).execute()).length, 0);
  });

  it('an anonymous login replays with its session cookie; the stored row holds neither password nor session', async () => {
    const user = await cp.signup();
    const key = randomUUID();
    const send = () => cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'idempotency-key': key }, payload: { email: user.email, password: user.password } });
    const first = await send();
    assert.equal(first.statusCode, 200, first.body);
    const second = await send();
    assert.equal(second.statusCode, 200);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
    assert.deepEqual(second.headers['set-cookie'], first.headers['set-cookie']);
    const session = String([first.headers['set-cookie']].flat()[0]).split(';')[0]!.split('=')[1]!;
    const dump = JSON.stringify(await cp.db.selectFrom('idempotency_keys').selectAll().execute());
    for (const secret of [session, user.password, user.email, key]) assert.equal(dump.includes(secret), false);
    // A wrong password under the same key is another request: 422, not the stored session.
    const guess = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'idempotency-key': key }, payload: { email: user.email, password: 'not-the-password' } });
    assert.equal(guess.statusCode, 422);
    assert.equal(guess.headers['set-cookie'], undefined);
    assert.equal((guess.json() as { code: string }).code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('a partner key minted by the CP admin bearer: one key, the same plaintext, none of it at rest', async () => {
    const key = randomUUID();
    const name = `idem-${randomUUID().slice(0, 8)}`;
    const send = () =>
      cp.app.inject({ method: 'POST', url: '/api/v1/admin/partner-keys', headers: { ...cp.admin(), 'idempotency-key': key }, payload: { name, partner_id: 'partner-test', scopes: ['orgs:read'] } });
    const first = await send();
    assert.equal(first.statusCode, 201, first.body);
    const second = await send();
    assert.equal(second.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
    assert.equal((await cp.db.selectFrom('partner_api_keys').select('id').where('name', '=', name).execute()).length, 1);
    const plaintext = (first.json() as { key: string }).key;
    const dump = JSON.stringify(await cp.db.selectFrom('idempotency_keys').selectAll().execute());
    for (const secret of [plaintext, cp.adminToken, key]) assert.equal(dump.includes(secret), false);
  });

  it('the deprecated /cp alias honours the header too, as its own URL', async () => {
    const owner = await cp.signup();
    const key = randomUUID();
    const slug = uniqueSlug('alias');
    const send = () => cp.app.inject({ method: 'POST', url: '/cp/orgs', headers: { ...cp.as(owner), 'idempotency-key': key }, payload: { slug, name: `Org ${slug}` } });
    const first = await send();
    assert.equal(first.statusCode, 201, first.body);
    const second = await send();
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.headers['deprecation'], first.headers['deprecation']);
    assert.equal(second.body, first.body);
  });
});

describe('Idempotency-Key: the header is documented in the control plane OpenAPI', () => {
  it('lists it on a POST operation', async () => {
    const cp = await startTestControlPlane('pglite');
    try {
      const doc = (await cp.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        info: { description: string };
        paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
      };
      assert.match(doc.info.description, /Idempotency-Key/);
      assert.ok(doc.paths['/api/v1/orgs']?.['post']?.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key'));
    } finally {
      await cp.close();
    }
  });
});
