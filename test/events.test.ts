/**
 * Events: the stored list (`GET /events`, `GET /events/:id`) and the Server-Sent Events streams
 * (`GET /events/stream`, `GET /workspaces/:id/events/stream`), over real HTTP on loopback for the streams.
 *
 * The app builds its EventBus inside `buildTenantApp` and nothing yet emits events through HTTP, so the suite
 * reaches the app's own bus through `busProbe()` below: it wraps `EventBus.prototype.subscribe` (to learn which
 * bus the app's streams use and to count live subscriptions) and `listAfter` (to record events at exact points
 * of a replay). Events are then produced by the real `record()` — stored, then delivered — never inserted by hand.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { EventBus, type EventListener, type EventType, type WorkspaceEvent } from '../src/tenant/events/bus.js';
import { EventStream, SSE_SETTINGS } from '../src/tenant/events/sse.js';
import { createLogger } from '../src/core/logger.js';
import { SessionVerifier } from '../src/tenant/auth/session-verifier.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { FakeControlPlane } from './support/fake-control-plane.js';

// ---------------------------------------------------------------------------------------------------------------
// The bus probe (test-only; see the file comment)
// ---------------------------------------------------------------------------------------------------------------

type ListAfterHook = (call: { bus: EventBus; afterId: number; workspaceId: string | null; limit: number; result?: WorkspaceEvent[] }) => Promise<void>;

const probe = {
  lastSubscribed: null as EventBus | null,
  active: new Map<EventBus, number>(),
  beforeListAfter: null as ListAfterHook | null,
  afterListAfter: null as ListAfterHook | null,
};

const originalSubscribe = EventBus.prototype.subscribe;
const originalListAfter = EventBus.prototype.listAfter;
EventBus.prototype.subscribe = function (this: EventBus, listener: EventListener) {
  probe.lastSubscribed = this;
  probe.active.set(this, (probe.active.get(this) ?? 0) + 1);
  const unsubscribe = originalSubscribe.call(this, listener);
  let done = false;
  return () => {
    if (!done) probe.active.set(this, (probe.active.get(this) ?? 0) - 1);
    done = true;
    unsubscribe();
  };
};
EventBus.prototype.listAfter = async function (this: EventBus, afterId: number, workspaceId: string | null, limit = 1000) {
  await probe.beforeListAfter?.({ bus: this, afterId, workspaceId, limit });
  const result = await originalListAfter.call(this, afterId, workspaceId, limit);
  await probe.afterListAfter?.({ bus: this, afterId, workspaceId, limit, result });
  return result;
};
after(() => {
  EventBus.prototype.subscribe = originalSubscribe;
  EventBus.prototype.listAfter = originalListAfter;
});

const DEFAULT_SETTINGS = { ...SSE_SETTINGS };

// ---------------------------------------------------------------------------------------------------------------
// A minimal SSE client over fetch
// ---------------------------------------------------------------------------------------------------------------

interface SseFrame {
  comment?: string;
  id?: string;
  event?: string;
  data?: string;
}

interface EventData {
  id: number;
  type: string;
  workspace_id: string | null;
  timestamp: number;
  data: Record<string, unknown>;
}

class SseClient {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  /** Every byte received, for asserting the exact wire format. */
  raw = '';
  ended = false;

  private constructor(
    readonly response: Response,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    assert.equal(response.status, 200, `stream ${url}: ${response.status} ${response.status === 200 ? '' : await response.text()}`);
    assert.ok(response.body);
    return new SseClient(response, response.body.getReader(), abort);
  }

  /** The next frame (comment or event), or null once the server has ended the stream. */
  async next(timeoutMs = 5000): Promise<SseFrame | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return parseFrame(block);
      }
      if (this.ended) return null;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no SSE frame within ${timeoutMs} ms; so far: ${JSON.stringify(this.raw)}`)), timeoutMs);
      });
      try {
        const chunk = await Promise.race([this.reader.read(), timeout]);
        if (chunk.done) this.ended = true;
        else {
          const text = this.decoder.decode(chunk.value, { stream: true });
          this.raw += text;
          this.buffer += text;
        }
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The next event frame, skipping comments (pings, keep-alives). */
  async nextEvent(timeoutMs = 5000): Promise<SseFrame & { parsed: EventData }> {
    for (;;) {
      const frame = await this.next(timeoutMs);
      if (frame === null) throw new Error(`stream ended while waiting for an event; received: ${JSON.stringify(this.raw)}`);
      if (frame.comment === undefined) return { ...frame, parsed: JSON.parse(frame.data ?? 'null') as EventData };
    }
  }

  /** Event ids until (and including) `lastId`. */
  async eventIdsThrough(lastId: number): Promise<number[]> {
    const ids: number[] = [];
    for (;;) {
      const e = await this.nextEvent();
      ids.push(e.parsed.id);
      if (e.parsed.id === lastId) return ids;
      if (ids.length > 1000) throw new Error('runaway stream');
    }
  }

  close(): void {
    this.abort.abort();
  }
}

function parseFrame(block: string): SseFrame {
  const frame: SseFrame = {};
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) frame.comment = line.slice(1).trim();
    else {
      const colon = line.indexOf(':');
      const field = line.slice(0, colon) as 'id' | 'event' | 'data';
      frame[field] = line.slice(colon + 1).replace(/^ /, '');
    }
  }
  return frame;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('events', (kind) => {
  let t: TestTenant;
  let base: string;
  let bus: EventBus;

  /** Subscriptions that are not event streams (the channel delivery worker's), counted when the bus is named. */
  let background = 0;
  const activeSubscriptions = () => (probe.active.get(bus) ?? 0) - background;
  /** A closed client is noticed by the server a moment later: wait until no stream of an earlier test is left. */
  const settled = () => waitFor('earlier streams to unsubscribe', () => activeSubscriptions() === 0);
  const record = (type: EventType, workspaceId: string | null, payload: Record<string, unknown> = {}) => bus.record(type, workspaceId, payload);
  const stream = (path: string, headers: Record<string, string> = t.admin()) => SseClient.open(`${base}${path}`, headers);

  before(async () => {
    t = await startTestTenant(kind, { listen: true });
    base = t.url;
    // The first stream subscribes to the app's bus, which the probe then names.
    probe.lastSubscribed = null;
    const first = await stream('/events/stream');
    assert.deepEqual(await first.next(), { comment: 'ping' });
    assert.ok(probe.lastSubscribed, 'the stream subscribed to the bus');
    bus = probe.lastSubscribed;
    background = (probe.active.get(bus) ?? 0) - 1;
    first.close();
    await waitFor('the probe stream to unsubscribe', () => activeSubscriptions() === 0);
  });
  after(async () => {
    Object.assign(SSE_SETTINGS, DEFAULT_SETTINGS);
    probe.beforeListAfter = null;
    probe.afterListAfter = null;
    await t.close();
  });

  // ------------------------------------------------------------------- the stored list

  it('GET /events lists the newest events first in the reference shape, with limit and a before cursor', async () => {
    const ws = await t.createWorkspace();
    const recorded = [
      await record('WORKSPACE_PROVISIONING', ws.id, { name: 'n1' }),
      await record('WORKSPACE_ONLINE', ws.id, { url: 'http://x' }),
      await record('SECRET_SET', null, { key: 'K' }),
    ];
    const res = await t.app.inject({ method: 'GET', url: '/events', headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
    const list = res.json() as Array<Record<string, unknown>>;
    assert.ok(list.length <= 100);
    assert.deepEqual(
      list.slice(0, 3),
      [...recorded].reverse().map((e) => ({ id: e.id, event_type: e.event_type, workspace_id: e.workspace_id, payload: e.payload, created_at: e.created_at })),
    );
    assert.deepEqual(Object.keys(list[0]!).sort(), ['created_at', 'event_type', 'id', 'payload', 'workspace_id']);
    const ids = list.map((e) => e.id as number);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');

    const limited = await t.app.inject({ method: 'GET', url: '/events?limit=2', headers: t.admin() });
    assert.deepEqual(
      limited.json().map((e: { id: number }) => e.id),
      [recorded[2]!.id, recorded[1]!.id],
    );
    const page = await t.app.inject({ method: 'GET', url: `/events?limit=2&before=${recorded[1]!.id}`, headers: t.admin() });
    assert.equal(page.json()[0].id, recorded[0]!.id);
    assert.ok(page.json().every((e: { id: number }) => e.id < recorded[1]!.id));

    for (const qs of ['limit=0', 'limit=1001', 'limit=x', 'before=0']) {
      const bad = await t.app.inject({ method: 'GET', url: `/events?${qs}`, headers: t.admin() });
      assert.equal(bad.statusCode, 400, qs);
      assert.equal(bad.json().code, 'VALIDATION_FAILED', qs);
    }
  });

  it('GET /events defaults to the latest 100 and allows up to 1000', async () => {
    const ws = await t.createWorkspace();
    for (let i = 0; i < 105; i++) await record('WORKSPACE_DEGRADED', ws.id, { i });
    const byDefault = await t.app.inject({ method: 'GET', url: '/events', headers: t.admin() });
    assert.equal(byDefault.json().length, 100);
    assert.deepEqual(byDefault.json()[0].payload, { i: 104 });
    const more = await t.app.inject({ method: 'GET', url: '/events?limit=1000', headers: t.admin() });
    assert.ok(more.json().length >= 105);
  });

  it('GET /events/:id filters to one workspace; a malformed id is 400, another workspace of a bound key 404', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const a1 = await record('WORKSPACE_PROVISIONING', a.id);
    await record('WORKSPACE_PROVISIONING', b.id);
    const a2 = await record('WORKSPACE_PAUSED', a.id, { by: 'test' });
    await record('BUDGET_UPDATED', null);

    const res = await t.app.inject({ method: 'GET', url: `/events/${a.id}`, headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
    // Creating the workspace recorded its own WORKSPACE_PROVISIONING first.
    assert.deepEqual(
      res.json().map((e: { id: number; event_type: string; workspace_id: string }) => [e.id, e.event_type, e.workspace_id]),
      [
        [a2.id, 'WORKSPACE_PAUSED', a.id],
        [a1.id, 'WORKSPACE_PROVISIONING', a.id],
        [res.json()[2].id, 'WORKSPACE_PROVISIONING', a.id],
      ],
    );
    assert.ok(res.json()[2].id < a1.id);
    // The id is case-insensitive, like every workspace route.
    const upper = await t.app.inject({ method: 'GET', url: `/events/${a.id.toUpperCase()}?limit=1`, headers: t.admin() });
    assert.deepEqual(upper.json().map((e: { id: number }) => e.id), [a2.id]);

    const malformed = await t.app.inject({ method: 'GET', url: '/events/not-a-uuid', headers: t.admin() });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error, 'invalid workspace ID');

    const boundToA = await t.mintKey({ role: 'reader', workspace_ids: [a.id] });
    const own = await t.app.inject({ method: 'GET', url: `/events/${a.id}`, headers: t.as(boundToA.auth_token) });
    assert.equal(own.statusCode, 200);
    assert.equal(own.json().length, 3);
    const other = await t.app.inject({ method: 'GET', url: `/events/${b.id}`, headers: t.as(boundToA.auth_token) });
    assert.equal(other.statusCode, 404);
    assert.equal(other.json().error, 'workspace not found');
    const orgWide = await t.app.inject({ method: 'GET', url: '/events', headers: t.as(boundToA.auth_token) });
    assert.equal(orgWide.statusCode, 403);
    assert.equal(orgWide.json().code, 'SCOPE_EXCEEDED');
  });

  it('GET /events needs credentials; a reader key is enough', async () => {
    const anon = await t.app.inject({ method: 'GET', url: '/events', headers: { 'x-molecule-org-id': t.orgId } });
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.json().error, 'admin auth required');
    const reader = await t.mintKey({ role: 'reader' });
    const ok = await t.app.inject({ method: 'GET', url: '/events?limit=1', headers: t.as(reader.auth_token) });
    assert.equal(ok.statusCode, 200);
  });

  // ------------------------------------------------------------------- the stream

  it('streams: SSE headers, `: ping` first, then one frame per live event with the reference data fields', async () => {
    const ws = await t.createWorkspace();
    const client = await stream('/events/stream');
    assert.equal(client.response.headers.get('content-type'), 'text/event-stream');
    assert.equal(client.response.headers.get('cache-control'), 'no-cache');
    assert.equal(client.response.headers.get('x-accel-buffering'), 'no');
    assert.equal(client.response.headers.get('connection'), 'keep-alive');
    assert.deepEqual(await client.next(), { comment: 'ping' });
    assert.ok(client.raw.startsWith(': ping\n\n'));

    const event = await record('WORKSPACE_PAUSED', ws.id, { reason: 'test', nested: { n: 1 } });
    const frame = await client.nextEvent();
    assert.equal(frame.id, String(event.id));
    assert.equal(frame.event, 'WORKSPACE_PAUSED');
    assert.deepEqual(frame.parsed, {
      id: event.id,
      type: 'WORKSPACE_PAUSED',
      workspace_id: ws.id,
      timestamp: Date.parse(event.created_at),
      data: { reason: 'test', nested: { n: 1 } },
    });
    assert.ok(Math.abs(frame.parsed.timestamp - Date.now()) < 60_000, 'timestamp is unix milliseconds');
    assert.ok(
      client.raw.endsWith(`id: ${event.id}\nevent: WORKSPACE_PAUSED\ndata: ${JSON.stringify(frame.parsed)}\n\n`),
      'exact wire format',
    );
    client.close();
  });

  it('?workspace_id= and /workspaces/:id/events/stream carry only that workspace’s events', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const filtered = await stream(`/events/stream?workspace_id=${a.id}`);
    const reference = await stream(`/workspaces/${a.id}/events/stream`, t.as(a.auth_token));
    assert.deepEqual(await filtered.next(), { comment: 'ping' });
    assert.deepEqual(await reference.next(), { comment: 'ping' });
    await record('WORKSPACE_ONLINE', b.id);
    await record('SECRET_SET', null);
    const mine = await record('WORKSPACE_ONLINE', a.id);
    for (const client of [filtered, reference]) {
      const frame = await client.nextEvent();
      assert.equal(frame.parsed.id, mine.id, 'the first event is A’s: B’s and the org-level one were filtered out');
      assert.equal(frame.parsed.workspace_id, a.id);
      client.close();
    }
  });

  it('resumes after Last-Event-ID: exactly the missed events, in order, none twice — also those recorded during the replay query', async () => {
    SSE_SETTINGS.replayPageSize = 2;
    const ws = await t.createWorkspace();
    const other = await t.createWorkspace();
    const stored: WorkspaceEvent[] = [];
    for (let i = 1; i <= 5; i++) {
      stored.push(await record('WORKSPACE_DEGRADED', ws.id, { i }));
      await record('WORKSPACE_DEGRADED', other.id, { i }); // interleaved, filtered out
    }
    const during: WorkspaceEvent[] = [];
    let calls = 0;
    // Before the first page query: recorded while the stream is subscribed, so it is both in the table (the
    // query sees it) and held live — it must be sent once.
    probe.beforeListAfter = async (call) => {
      if (call.workspaceId === ws.id && calls++ === 0) during.push(await record('WORKSPACE_RESTARTED', ws.id, { during: 'query' }));
    };
    // After the last (short) page came back: only held live — it must still be sent, after the replay.
    probe.afterListAfter = async (call) => {
      if (call.workspaceId === ws.id && call.result!.length < call.limit) during.push(await record('WORKSPACE_RESTARTED', ws.id, { during: 'drain' }));
    };
    try {
      const client = await stream(`/events/stream?workspace_id=${ws.id}`, { ...t.admin(), 'last-event-id': String(stored[1]!.id) });
      assert.deepEqual(await client.next(), { comment: 'ping' });
      await waitFor('both replay hooks to record', () => during.length === 2);
      const live = await record('WORKSPACE_ONLINE', ws.id, { during: 'live' });
      const expected = [...stored.slice(2), ...during, live].map((e) => e.id);
      assert.deepEqual(await client.eventIdsThrough(live.id), expected);
      assert.ok(calls >= 2, 'the replay paged');
      client.close();
    } finally {
      probe.beforeListAfter = null;
      probe.afterListAfter = null;
      SSE_SETTINGS.replayPageSize = DEFAULT_SETTINGS.replayPageSize;
    }
  });

  it('resumes from ?last_event_id= on a first connection; the Last-Event-ID header wins over it', async () => {
    const ws = await t.createWorkspace();
    const e1 = await record('WORKSPACE_PAUSED', ws.id);
    const e2 = await record('WORKSPACE_ONLINE', ws.id);
    const e3 = await record('WORKSPACE_OFFLINE', ws.id);
    const byQuery = await stream(`/workspaces/${ws.id}/events/stream?last_event_id=${e1.id}`, t.as(ws.auth_token));
    assert.deepEqual(await byQuery.eventIdsThrough(e3.id), [e2.id, e3.id]);
    byQuery.close();
    const both = await stream(`/events/stream?workspace_id=${ws.id}&last_event_id=${e1.id}`, { ...t.admin(), 'last-event-id': String(e2.id) });
    assert.deepEqual(await both.eventIdsThrough(e3.id), [e3.id]);
    both.close();
    const bad = await t.app.inject({ method: 'GET', url: '/events/stream', headers: { ...t.admin(), 'last-event-id': 'abc' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'VALIDATION_FAILED');
  });

  it('unsubscribes from the bus when the client disconnects', async () => {
    await settled();
    const baseline = activeSubscriptions();
    const ws = await t.createWorkspace();
    const clients = [await stream('/events/stream'), await stream(`/workspaces/${ws.id}/events/stream`, t.as(ws.auth_token))];
    for (const c of clients) assert.deepEqual(await c.next(), { comment: 'ping' });
    assert.equal(activeSubscriptions(), baseline + 2);
    for (const c of clients) c.close();
    await waitFor('both streams to unsubscribe', () => activeSubscriptions() === baseline);
    // HEAD would answer at once and leave a stream nobody reads subscribed, so there is none.
    // (HEAD /events/stream falls to HEAD /events/:id, whose id it is not.)
    const head = await fetch(`${base}/events/stream`, { method: 'HEAD', headers: t.admin() });
    assert.equal(head.status, 400);
    const headWs = await fetch(`${base}/workspaces/${ws.id}/events/stream`, { method: 'HEAD', headers: t.as(ws.auth_token) });
    assert.equal(headWs.status, 404);
    assert.equal(activeSubscriptions(), baseline);
    // The bus still works for everyone else.
    await record('WORKSPACE_ONLINE', ws.id);
  });

  it('sends `: keepalive` while idle', async () => {
    SSE_SETTINGS.keepAliveMs = 50;
    try {
      const client = await stream('/events/stream');
      assert.deepEqual(await client.next(), { comment: 'ping' });
      assert.deepEqual(await client.next(1000), { comment: 'keepalive' });
      assert.deepEqual(await client.next(1000), { comment: 'keepalive' });
      client.close();
    } finally {
      SSE_SETTINGS.keepAliveMs = DEFAULT_SETTINGS.keepAliveMs;
    }
  });

  it('ends a slow consumer’s stream with `event: overflow` carrying the id to resume from, and the resume has every event', async () => {
    await settled();
    SSE_SETTINGS.maxPendingEvents = 3;
    // The stream class itself, on the app's bus, piped into a sink that stops taking data after the first write:
    // a TCP peer that stops reading would first fill kernel buffers (megabytes) before the server notices.
    // Payloads larger than the Readable's high-water mark make each event one step of backpressure.
    const slow = new EventStream({ bus, workspaceId: null, lastEventId: null, log: { warn: () => undefined, error: () => undefined } });
    const received: string[] = [];
    let stuck = true;
    let release: (() => void) | null = null;
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk.toString('utf8'));
        if (stuck) release = () => callback();
        else callback();
      },
    });
    slow.pipe(sink);
    try {
      const ws = await t.createWorkspace(); // its WORKSPACE_PROVISIONING is the first event the stream holds
      assert.equal(activeSubscriptions(), 1);
      const big = 'x'.repeat(64 * 1024);
      const events: WorkspaceEvent[] = [];
      for (let i = 0; i < 6; i++) events.push(await record('WORKSPACE_DEGRADED', ws.id, { i, big }));
      assert.equal(activeSubscriptions(), 0, 'unsubscribed at the overflow: the stream holds nothing more');

      stuck = false;
      (release as (() => void) | null)?.();
      await finished(sink);
      const frames = received.join('').split('\n\n').filter(Boolean).map(parseFrame);
      assert.deepEqual(frames[0], { comment: 'ping' });
      const delivered = frames.filter((f) => f.event !== undefined && f.event !== 'overflow').map((f) => Number(f.id));
      const overflow = frames.at(-1)!;
      assert.equal(overflow.event, 'overflow');
      const resumeFrom = Number(overflow.id);
      assert.deepEqual(JSON.parse(overflow.data!), { reason: 'slow consumer', last_event_id: resumeFrom });
      assert.ok(delivered.length > 0 && delivered.length < events.length + 1, `some events delivered, some held back: ${delivered.join(',')}`);
      assert.equal(resumeFrom, delivered.at(-1), 'the client resumes after the last event it received');

      SSE_SETTINGS.maxPendingEvents = DEFAULT_SETTINGS.maxPendingEvents;
      const resumed = await stream(`/events/stream?workspace_id=${ws.id}`, { ...t.admin(), 'last-event-id': String(resumeFrom) });
      const rest = await resumed.eventIdsThrough(events.at(-1)!.id);
      const all = (await t.app.inject({ method: 'GET', url: `/events/${ws.id}`, headers: t.admin() })).json() as Array<{ id: number }>;
      assert.deepEqual([...delivered, ...rest], all.map((e) => e.id).reverse(), 'nothing dropped, nothing twice');
      resumed.close();
    } finally {
      SSE_SETTINGS.maxPendingEvents = DEFAULT_SETTINGS.maxPendingEvents;
      slow.destroy();
    }
  });

  it('streams the events the app itself records (creating a workspace)', async () => {
    const client = await stream('/events/stream');
    assert.deepEqual(await client.next(), { comment: 'ping' });
    const ws = await t.createWorkspace();
    const frame = await client.nextEvent();
    assert.equal(frame.event, 'WORKSPACE_PROVISIONING');
    assert.equal(frame.parsed.workspace_id, ws.id);
    assert.equal(frame.parsed.data['reason'], 'created');
    client.close();
  });

  it('writes one audit event per stream, when it opens', async () => {
    await settled();
    const client = await stream('/events/stream', { ...t.admin(), 'x-request-id': `sse-audit-${kind}` });
    assert.deepEqual(await client.next(), { comment: 'ping' });
    const rows = async () =>
      t.db.selectFrom('audit_events').select(['route', 'status', 'actor']).where('request_id', '=', `sse-audit-${kind}`).execute();
    await waitFor('the audit row', async () => (await rows()).length > 0);
    client.close();
    await waitFor('the stream to unsubscribe', () => activeSubscriptions() === 0);
    await new Promise((r) => setTimeout(r, 300)); // past the writer's flush interval: no second row appears
    assert.deepEqual(await rows(), [{ route: '/events/stream', status: 200, actor: 'admin-token' }]);
  });

  it('stream auth: 401 without credentials, 403/404 for a bound key outside its binding, 404 for an unknown workspace', async () => {
    const a = await t.createWorkspace();
    const b = await t.createWorkspace();
    const routing = { 'x-molecule-org-id': t.orgId };
    const get = (url: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url, headers });
    const expect = async (url: string, headers: Record<string, string>, status: number, error: string) => {
      const res = await get(url, headers);
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      assert.equal(res.json().error, error, url);
    };

    await expect('/events/stream', routing, 401, 'admin auth required');
    await expect(`/workspaces/${a.id}/events/stream`, routing, 401, 'missing workspace auth token');
    await expect(`/workspaces/${a.id}/events/stream`, t.as(b.auth_token), 401, 'invalid workspace auth token');

    const boundToB = await t.mintKey({ role: 'reader', workspace_ids: [b.id] });
    await expect(`/events/stream?workspace_id=${a.id}`, t.as(boundToB.auth_token), 404, 'workspace not found');
    await expect('/events/stream', t.as(boundToB.auth_token), 403, 'this credential is bound to specific workspaces and cannot act org-wide');
    await expect(`/workspaces/${a.id}/events/stream`, t.as(boundToB.auth_token), 404, 'workspace not found');

    await expect(`/workspaces/${randomUUID()}/events/stream`, t.admin(), 404, 'workspace not found');
    await expect('/workspaces/nope/events/stream', t.admin(), 400, 'invalid workspace ID');
    await expect('/events/stream?workspace_id=nope', t.admin(), 400, 'workspace_id must be a workspace UUID');

    // The bound key does reach its own workspace's streams, by either path.
    const own = await stream(`/events/stream?workspace_id=${b.id}`, t.as(boundToB.auth_token));
    const ownRef = await stream(`/workspaces/${b.id}/events/stream`, t.as(boundToB.auth_token));
    const event = await record('WORKSPACE_ONLINE', b.id);
    assert.equal((await own.nextEvent()).parsed.id, event.id);
    assert.equal((await ownRef.nextEvent()).parsed.id, event.id);
    own.close();
    ownRef.close();
  });
});

forEachDatabase('events: shutdown', (kind) => {
  it('app.close() ends open streams instead of waiting on them forever', async () => {
    const t = await startTestTenant(kind, { listen: true });
    const ws = await t.createWorkspace();
    const client = await SseClient.open(`${t.url}/workspaces/${ws.id}/events/stream`, t.as(ws.auth_token));
    assert.deepEqual(await client.next(), { comment: 'ping' });
    const closed = t.close();
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
    assert.notEqual(await Promise.race([closed.then(() => 'closed' as const), timeout]), 'timeout');
    assert.equal(await client.next(), null, 'the client sees the stream end');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Stream lifetime: a stream lives only as long as its credential and its workspace
// ---------------------------------------------------------------------------------------------------------------

/** The frame a stream ends with when its credential or workspace goes away, then the end of the stream. */
async function expectClosed(client: SseClient, reason: string, timeoutMs = 10_000): Promise<void> {
  for (;;) {
    const frame = await client.next(timeoutMs);
    assert.ok(frame !== null, `the stream ended without a closed frame; received: ${JSON.stringify(client.raw)}`);
    if (frame.comment !== undefined) continue;
    assert.equal(frame.event, 'closed', `expected the closed frame, got ${JSON.stringify(frame)}`);
    assert.deepEqual(JSON.parse(frame.data ?? 'null'), { reason });
    assert.equal(frame.id, undefined, 'the closed frame does not move Last-Event-ID');
    assert.equal(await client.next(timeoutMs), null, 'then the stream ends');
    return;
  }
}

forEachDatabase('events: stream lifetime', (kind) => {
  let t: TestTenant;
  const cp = new FakeControlPlane();
  const orgId = randomUUID();
  const session = mintCredential('session').plaintext;
  let bus: EventBus;
  const stream = (path: string, headers: Record<string, string>) => SseClient.open(`${t.url}${path}`, headers);
  let background = 0;
  const activeSubscriptions = () => (probe.active.get(bus) ?? 0) - background;

  before(async () => {
    await cp.start();
    const log = createLogger({ name: 'test', level: 'silent' });
    t = await startTestTenant(kind, {
      listen: true,
      // A short positive cache, so a session that ends is noticed within the test's patience (default 30 s).
      env: { MOLECULE_ORG_ID: orgId },
      sessionVerifier: new SessionVerifier({ cpUpstreamUrl: cp.url, orgId, log, positiveTtlMs: 200, negativeTtlMs: 200 }),
    });
    probe.lastSubscribed = null;
    const first = await stream('/events/stream', t.admin());
    assert.deepEqual(await first.next(), { comment: 'ping' });
    bus = probe.lastSubscribed!;
    background = (probe.active.get(bus) ?? 0) - 1;
    first.close();
    await waitFor('the probe stream to unsubscribe', () => activeSubscriptions() === 0);
  });
  after(async () => {
    Object.assign(SSE_SETTINGS, DEFAULT_SETTINGS);
    await t.close();
    await cp.stop();
  });

  /** Local revocations must end streams at once, not at the next periodic check: make that check far away. */
  async function withoutPeriodicCheck(fn: () => Promise<void>) {
    await waitFor('earlier streams to end', () => activeSubscriptions() === 0);
    SSE_SETTINGS.recheckMs = 10 * 60_000;
    try {
      await fn();
    } finally {
      SSE_SETTINGS.recheckMs = DEFAULT_SETTINGS.recheckMs;
    }
  }
  async function withFastPeriodicCheck(fn: () => Promise<void>) {
    await waitFor('earlier streams to end', () => activeSubscriptions() === 0);
    SSE_SETTINGS.recheckMs = 100;
    try {
      await fn();
    } finally {
      SSE_SETTINGS.recheckMs = DEFAULT_SETTINGS.recheckMs;
    }
  }

  it('revoking the org key a stream was opened with ends it at once; nothing recorded afterwards reaches it', async () => {
    await withoutPeriodicCheck(async () => {
      const ws = await t.createWorkspace();
      const key = await t.mintKey({ role: 'reader' });
      const other = await t.mintKey({ role: 'reader' });
      const doomed = await stream('/events/stream', t.as(key.auth_token));
      const survivor = await stream('/events/stream', t.as(other.auth_token));
      assert.deepEqual(await doomed.next(), { comment: 'ping' });
      assert.deepEqual(await survivor.next(), { comment: 'ping' });
      const revoke = await t.app.inject({ method: 'DELETE', url: `/org/tokens/${key.id}`, headers: t.admin() });
      assert.equal(revoke.statusCode, 200, revoke.body);
      const after = await bus.record('WORKSPACE_ONLINE', ws.id);
      await expectClosed(doomed, 'credential_invalid');
      assert.equal(doomed.raw.includes(`id: ${after.id}`), false, 'no event after the revoke');
      assert.equal((await survivor.nextEvent()).parsed.id, after.id, 'other credentials’ streams carry on');
      survivor.close();
    });
  });

  it('a key rotated with grace_seconds=0 ends its streams at once', async () => {
    await withoutPeriodicCheck(async () => {
      const key = await t.mintKey({ role: 'admin' });
      const client = await stream('/events/stream', t.as(key.auth_token));
      assert.deepEqual(await client.next(), { comment: 'ping' });
      const rotate = await t.app.inject({ method: 'POST', url: `/org/tokens/${key.id}/rotate`, headers: t.admin(), payload: { grace_seconds: 0 } });
      assert.equal(rotate.statusCode, 200, rotate.body);
      await expectClosed(client, 'credential_invalid');
    });
  });

  it('revoking the workspace token a stream was opened with ends it at once', async () => {
    await withoutPeriodicCheck(async () => {
      const ws = await t.createWorkspace();
      const client = await stream(`/workspaces/${ws.id}/events/stream`, t.as(ws.auth_token));
      assert.deepEqual(await client.next(), { comment: 'ping' });
      const revoke = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/tokens/${ws.token_id}`, headers: t.admin() });
      assert.equal(revoke.statusCode, 200, revoke.body);
      await expectClosed(client, 'credential_invalid');
    });
  });

  it('deleting a workspace delivers WORKSPACE_REMOVED to its streams, then ends them; org-wide streams carry on', async () => {
    await withoutPeriodicCheck(async () => {
      const ws = await t.createWorkspace();
      const own = await stream(`/workspaces/${ws.id}/events/stream`, t.as(ws.auth_token));
      const filtered = await stream(`/events/stream?workspace_id=${ws.id}`, t.admin());
      const orgWide = await stream('/events/stream', t.admin());
      for (const c of [own, filtered, orgWide]) assert.deepEqual(await c.next(), { comment: 'ping' });
      const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() });
      assert.equal(del.statusCode, 200, del.body);
      for (const c of [own, filtered]) {
        const removed = await c.nextEvent();
        assert.equal(removed.event, 'WORKSPACE_REMOVED');
        await expectClosed(c, 'workspace_removed');
      }
      assert.equal((await orgWide.nextEvent()).event, 'WORKSPACE_REMOVED');
      const later = await bus.record('BUDGET_UPDATED', null);
      assert.equal((await orgWide.nextEvent()).parsed.id, later.id);
      orgWide.close();
    });
  });

  it('re-verifies periodically against the database: a key revoked or expired elsewhere, a workspace removed elsewhere', async () => {
    await withFastPeriodicCheck(async () => {
      const ws = await t.createWorkspace();
      const revokedElsewhere = await t.mintKey({ role: 'reader' });
      const expiring = await t.mintKey({ role: 'reader', expires_at: new Date(Date.now() + 3_600_000).toISOString() });
      const tokenElsewhere = await t.createWorkspace();
      const clients = {
        revoked: await stream('/events/stream', t.as(revokedElsewhere.auth_token)),
        expired: await stream('/events/stream', t.as(expiring.auth_token)),
        token: await stream(`/workspaces/${tokenElsewhere.id}/events/stream`, t.as(tokenElsewhere.auth_token)),
        removed: await stream(`/events/stream?workspace_id=${ws.id}`, t.admin()),
        admin: await stream('/events/stream', t.admin()),
      };
      for (const c of Object.values(clients)) assert.deepEqual(await c.next(), { comment: 'ping' });
      // What another replica's revoke, the clock, or another replica's delete leave behind: rows, no local event.
      await t.db.updateTable('org_api_tokens').set({ revoked_at: new Date() }).where('id', '=', revokedElsewhere.id).execute();
      await t.db.updateTable('org_api_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expiring.id).execute();
      await t.db.updateTable('workspace_tokens').set({ revoked_at: new Date() }).where('id', '=', tokenElsewhere.token_id).execute();
      await t.db.updateTable('workspaces').set({ status: 'removed', removed_at: new Date() }).where('id', '=', ws.id).execute();
      await expectClosed(clients.revoked, 'credential_invalid');
      await expectClosed(clients.expired, 'credential_invalid');
      await expectClosed(clients.token, 'credential_invalid');
      await expectClosed(clients.removed, 'workspace_removed');
      // ADMIN_TOKEN is configuration: its org-wide stream is still open and delivering.
      const event = await bus.record('BUDGET_UPDATED', null);
      assert.equal((await clients.admin.nextEvent()).parsed.id, event.id);
      clients.admin.close();
    });
  });

  it('a session stream ends once the control plane no longer confirms the member (after the verifier’s cache)', async () => {
    await withFastPeriodicCheck(async () => {
      cp.members.set(session, { user_id: 'user_stream', role: 'admin', org_id: orgId });
      const headers = { 'x-molecule-org-id': t.orgId, cookie: `mcp_session=${session}` };
      const client = await stream('/events/stream', headers);
      assert.deepEqual(await client.next(), { comment: 'ping' });
      // Still a member: the periodic checks keep it open.
      await new Promise((r) => setTimeout(r, 500));
      const event = await bus.record('BUDGET_UPDATED', null);
      assert.equal((await client.nextEvent()).parsed.id, event.id);
      cp.members.delete(session);
      await expectClosed(client, 'credential_invalid');
    });
  });
});

forEachDatabase('events: lazy bootstrap streams', (kind) => {
  it('a stream opened through lazy bootstrap ends once bootstrap closes (the first org key)', async () => {
    const t = await startTestTenant(kind, { listen: true, withoutAdminToken: true });
    SSE_SETTINGS.recheckMs = 100;
    try {
      const headers = { 'x-molecule-org-id': t.orgId };
      const client = await SseClient.open(`${t.url}/events/stream`, headers);
      assert.deepEqual(await client.next(), { comment: 'ping' });
      const key = await t.app.inject({ method: 'POST', url: '/org/tokens', headers, payload: { name: 'first' } });
      assert.equal(key.statusCode, 200, key.body);
      await expectClosed(client, 'credential_invalid');
    } finally {
      SSE_SETTINGS.recheckMs = DEFAULT_SETTINGS.recheckMs;
      await t.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Bounded: streams per credential and in total, and each stream's buffer in bytes
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('events: stream limits', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { listen: true, env: { EVENT_STREAMS_PER_CREDENTIAL_MAX: '2', EVENT_STREAMS_MAX: '4' } });
  });
  after(async () => {
    await t.close();
  });

  async function refused(path: string, headers: Record<string, string>, scope: 'credential' | 'tenant', limit: number) {
    const res = await fetch(`${t.url}${path}`, { headers });
    assert.equal(res.status, 429, await res.clone().text());
    assert.equal(res.headers.get('retry-after'), String(SSE_SETTINGS.retryAfterSeconds));
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['code'], 'STREAM_LIMIT');
    assert.equal(body['error'], scope === 'credential' ? `too many open event streams for this credential (limit ${limit})` : `too many open event streams on this server (limit ${limit})`);
    assert.deepEqual([body['scope'], body['limit'], body['retry_after']], [scope, limit, SSE_SETTINGS.retryAfterSeconds]);
    assert.equal(typeof body['request_id'], 'string');
  }

  it('caps open streams per credential (429 + Retry-After), other credentials unaffected, and frees a slot on close', async () => {
    const ws = await t.createWorkspace();
    const key = await t.mintKey({ role: 'reader' });
    const a1 = await SseClient.open(`${t.url}/events/stream`, t.as(key.auth_token));
    const a2 = await SseClient.open(`${t.url}/events/stream?workspace_id=${ws.id}`, t.as(key.auth_token));
    for (const c of [a1, a2]) assert.deepEqual(await c.next(), { comment: 'ping' });
    await refused('/events/stream', t.as(key.auth_token), 'credential', 2);
    await refused(`/workspaces/${ws.id}/events/stream`, t.as(key.auth_token), 'credential', 2);
    const own = await SseClient.open(`${t.url}/workspaces/${ws.id}/events/stream`, t.as(ws.auth_token));
    assert.deepEqual(await own.next(), { comment: 'ping' });
    a1.close();
    await waitFor('the closed stream to free its slot', async () => {
      const res = await fetch(`${t.url}/events/stream?last_event_id=x`, { headers: t.as(key.auth_token) });
      await res.body?.cancel();
      return res.status === 400; // past the cap check, refused by validation: a slot is free
    });
    const a3 = await SseClient.open(`${t.url}/events/stream`, t.as(key.auth_token));
    assert.deepEqual(await a3.next(), { comment: 'ping' });
    for (const c of [a2, own, a3]) c.close();
  });

  it('caps open streams in total', async () => {
    const keys = await Promise.all([1, 2, 3].map(() => t.mintKey({ role: 'reader' })));
    await waitFor('earlier streams to close', async () => {
      const res = await fetch(`${t.url}/events/stream?last_event_id=x`, { headers: t.admin() });
      await res.body?.cancel();
      return res.status === 400;
    });
    const open = [
      await SseClient.open(`${t.url}/events/stream`, t.as(keys[0]!.auth_token)),
      await SseClient.open(`${t.url}/events/stream`, t.as(keys[0]!.auth_token)),
      await SseClient.open(`${t.url}/events/stream`, t.as(keys[1]!.auth_token)),
      await SseClient.open(`${t.url}/events/stream`, t.as(keys[1]!.auth_token)),
    ];
    for (const c of open) assert.deepEqual(await c.next(), { comment: 'ping' });
    await refused('/events/stream', t.as(keys[2]!.auth_token), 'tenant', 4);
    for (const c of open) c.close();
  });

  it('bounds a connection’s buffer in bytes: a slow consumer of large events gets `event: overflow` and the stream ends', async () => {
    // As in the overflow test above: the stream class on a real bus, piped into a sink that stops taking data.
    const events = new EventBus(t.db, createLogger({ name: 'test', level: 'silent' }));
    const ws = await t.createWorkspace();
    const slow = new EventStream({ bus: events, workspaceId: ws.id, lastEventId: null, maxPendingBytes: 100 * 1024, log: { warn: () => undefined, error: () => undefined } });
    const received: string[] = [];
    let stuck = true;
    let release: (() => void) | null = null;
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk.toString('utf8'));
        if (stuck) release = () => callback();
        else callback();
      },
    });
    slow.pipe(sink);
    try {
      // 6 events of 40 KiB: far below the event cap (1000), well past the 100 KiB byte budget.
      assert.equal(SSE_SETTINGS.maxPendingEvents, 1000);
      const big = 'x'.repeat(40 * 1024);
      const recorded: WorkspaceEvent[] = [];
      for (let i = 0; i < 6; i++) recorded.push(await events.record('WORKSPACE_DEGRADED', ws.id, { i, big }));
      stuck = false;
      (release as (() => void) | null)?.();
      await finished(sink);
      const frames = received.join('').split('\n\n').filter(Boolean).map(parseFrame);
      const delivered = frames.filter((f) => f.event !== undefined && f.event !== 'overflow').map((f) => Number(f.id));
      const overflow = frames.at(-1)!;
      assert.equal(overflow.event, 'overflow');
      // How many got through before the consumer stalled depends on timing; that the rest was cut off does not.
      assert.ok(delivered.length < recorded.length, `the stream was cut off: ${delivered.join(',')}`);
      assert.deepEqual(delivered, recorded.slice(0, delivered.length).map((e) => e.id));
      const resumeFrom = delivered.at(-1) ?? recorded[0]!.id - 1;
      assert.deepEqual(JSON.parse(overflow.data!), { reason: 'slow consumer', last_event_id: resumeFrom });
      assert.equal(overflow.id, String(resumeFrom));
    } finally {
      slow.destroy();
    }
  });
});
