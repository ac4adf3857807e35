import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'kysely';
import type { AuditEvent } from '../src/core/audit/query.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

/** The wire shape, from the route's own schema (the SDK's type). */
type AuditEventBody = AuditEvent;

forEachDatabase('audit chain', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind);
  });
  after(() => t.close());

  async function query(qs: string): Promise<{ events: AuditEventBody[]; count: number; next_cursor: number | null }> {
    const res = await t.app.inject({ method: 'GET', url: `/audit${qs}`, headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }

  it('writes a mutation’s event in the same transaction as the change', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: { ...t.admin(), 'x-request-id': 'mint-audit-1' }, payload: { name: 'tx' } });
    assert.equal(res.statusCode, 200);
    // No flush, no wait: the row is there the moment the response is.
    const row = await t.db.selectFrom('audit_events').selectAll().where('request_id', '=', 'mint-audit-1').executeTakeFirst();
    assert.ok(row, 'audit row committed with the key');
    assert.deepEqual([row.actor, row.method, row.route, row.path, row.status], ['admin-token', 'POST', '/org/tokens', '/org/tokens', 200]);
  });

  it('records one event per authenticated request, attributed by key prefix, rendered as a text line', async () => {
    const key = await t.mintKey({ name: 'attributed' });
    const res = await t.app.inject({ method: 'GET', url: '/org/tokens', headers: { ...t.as(key.auth_token), 'x-request-id': 'attrib-1' } });
    assert.equal(res.headers['x-request-id'], 'attrib-1');
    const { events } = await query(`?credential_id=${key.id}`);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.actor, `org-token:${key.prefix}`);
    assert.equal(e.request_id, 'attrib-1');
    assert.match(e.line, new RegExp(`^org-token:${key.prefix} GET /org/tokens 200 \\d+ms$`));
  });

  it('records denied-but-authenticated requests and never unauthenticated ones', async () => {
    const reader = await t.mintKey({ role: 'reader' });
    const denied = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.as(reader.auth_token), payload: { name: 'x' } });
    assert.equal(denied.statusCode, 403);
    const anon = await t.app.inject({ method: 'GET', url: '/workspaces', headers: { 'x-molecule-org-id': t.orgId, 'x-request-id': 'anon-1' } });
    assert.equal(anon.statusCode, 401);
    const { events } = await query(`?credential_id=${reader.id}&status=403`);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.path, '/workspaces');
    const anonRows = await t.db.selectFrom('audit_events').select('seq').where('request_id', '=', 'anon-1').execute();
    assert.equal(anonRows.length, 0);
  });

  it('filters by actor, method, path prefix, status and time, and pages with a cursor', async () => {
    const key = await t.mintKey({ name: 'filters' });
    const since = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 5; i++) await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) });
    await t.app.inject({ method: 'GET', url: '/org/tokens', headers: t.as(key.auth_token) });
    const actor = `org-token:${key.prefix}`;
    const all = await query(`?actor=${encodeURIComponent(actor)}`);
    assert.equal(all.count, 6);
    const ws = await query(`?actor=${encodeURIComponent(actor)}&path=/workspaces&method=GET&status=200&since=${since}`);
    assert.equal(ws.count, 5);
    assert.ok(ws.events.every((e) => e.path === '/workspaces'));
    const future = await query(`?actor=${encodeURIComponent(actor)}&since=${new Date(Date.now() + 60_000).toISOString()}`);
    assert.equal(future.count, 0);
    const page1 = await query(`?actor=${encodeURIComponent(actor)}&limit=4`);
    assert.equal(page1.count, 4);
    assert.ok(page1.next_cursor);
    const page2 = await query(`?actor=${encodeURIComponent(actor)}&limit=4&cursor=${page1.next_cursor}`);
    assert.equal(page2.count, 2);
    assert.equal(page2.next_cursor, null);
    const seqs = [...page1.events, ...page2.events].map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first across pages');
    const bad = await t.app.inject({ method: 'GET', url: '/audit?since=yesterday', headers: t.admin() });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'since');
  });

  it('exports NDJSON, oldest first, every line parseable with its text rendering', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/audit/export?method=POST', headers: t.admin() });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/x-ndjson/);
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l) as AuditEventBody);
    assert.ok(lines.length >= 1);
    assert.ok(lines.every((e) => e.method === 'POST' && e.line.includes(' POST ')));
    const seqs = lines.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  });

  it('stays one unbroken chain under concurrent reads and mutations', async () => {
    const key = await t.mintKey({ name: 'concurrent' });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0
          ? t.app.inject({ method: 'POST', url: '/workspaces', headers: t.as(key.auth_token), payload: { name: `c-${i}` } })
          : t.app.inject({ method: 'GET', url: '/workspaces', headers: t.as(key.auth_token) }),
      ),
    );
    const verify = await t.app.inject({ method: 'GET', url: '/audit/verify', headers: t.admin() });
    assert.equal(verify.statusCode, 200);
    const body = verify.json();
    assert.equal(body.ok, true, verify.body);
    const total = await t.db.selectFrom('audit_events').select(t.db.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(body.count, Number(total.n));
    assert.match(body.head, /^[0-9a-f]{64}$/);
  });

  it('verify reports exactly the row that was altered, then the first gap when one is deleted', async () => {
    await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
    await t.app.inject({ method: 'GET', url: '/audit/verify', headers: t.admin() }); // flushes pending reads
    const rows = await t.db.selectFrom('audit_events').select(['seq', 'id']).orderBy('seq').execute();
    assert.ok(rows.length >= 6);
    const target = rows[Math.floor(rows.length / 2)]!;
    // An insider edits one stored row: turns a 403 into a 200, say.
    await sql`update audit_events set status = 299 where seq = ${target.seq}`.execute(t.db);
    const broken = await t.app.inject({ method: 'GET', url: '/audit/verify', headers: t.admin() });
    assert.equal(broken.statusCode, 200);
    const body = broken.json();
    assert.equal(body.ok, false);
    assert.equal(body.broken_at, Number(target.seq));
    assert.equal(body.event_id, target.id);
    // Deleting an earlier row is reported at the first row after the gap.
    const earlier = rows[1]!;
    await sql`delete from audit_events where seq = ${earlier.seq}`.execute(t.db);
    const gap = (await t.app.inject({ method: 'GET', url: '/audit/verify', headers: t.admin() })).json();
    assert.equal(gap.ok, false);
    assert.equal(gap.broken_at, Number(rows[2]!.seq));
  });
});
