/**
 * Notification channels (issue 11 item 4): CRUD shapes, credentials encrypted at rest and never returned, SSRF
 * refusal by default, roles, bad input that writes nothing; real delivery to a real HTTP server started here —
 * Slack / Discord / signed-webhook formats, the test endpoint, retries with backoff and the delivery log — and the
 * issue's Done-when: a webhook channel receives a signed delivery when its workspace's runtime is killed into failed.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createScratchDatabase, forEachDatabase, startTestTenant, type TestTenant } from './harness.js';
import { NetworkPolicy, postJson } from '../src/tenant/channels/network.js';
import { openConfig } from '../src/tenant/channels/store.js';
import { keyIdOf, SecretCipher } from '../src/core/crypto/cipher.js';
import { reencryptSecrets } from '../src/tenant/secrets/rotate-key.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP server on loopback: records every request; `/flaky-…` paths answer 500 twice, then 200. */
async function startReceiver() {
  const received: Received[] = [];
  const hits = new Map<string, number>();
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      received.push({ path: url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const n = (hits.get(url) ?? 0) + 1;
      hits.set(url, n);
      const status = url.startsWith('/flaky') && n <= 2 ? 500 : url.startsWith('/down') ? 503 : 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'try again');
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    base,
    received,
    /** Resolves with the first request matching `pred` (waits on arrivals, never a fixed sleep). */
    async waitFor(pred: (r: Received) => boolean, timeoutMs = 60_000): Promise<Received> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(pred);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching request within ${timeoutMs} ms; got ${received.map((r) => r.path).join(', ')}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does to trust a delivery (README "Channels"): recompute the HMAC over `<t>.<body>`. */
function verifySignature(secret: string, header: string | undefined, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Channel {
  id: string;
  workspace_id: string;
  type: string;
  config: Record<string, string>;
  allowed_users: string[];
  enabled: boolean;
  events: string[];
  created_at: string;
  updated_at: string;
  signing_secret?: string;
}
interface Delivery {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  attempt_log: Array<{ attempt: number; status_code: number | null; error: string | null }>;
}

describe('channels: the SSRF guard at connect time', () => {
  it('a host name is checked in the socket’s own lookup: one resolving to loopback is refused (DNS rebinding)', async () => {
    const policy = new NetworkPolicy([]);
    const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) => policy.guardedLookup()('localhost', { all: true }, (err) => resolve(err)));
    assert.equal(refused?.code, 'ECHANNELREFUSED');
    assert.match(refused?.message ?? '', /private, loopback or reserved/);
    const rx = await startReceiver();
    try {
      // `localhost.` passes no name check, so only the lookup can stop it; nothing reaches the server.
      const res = await postJson(policy, rx.base.replace('127.0.0.1', 'localhost.'), '{}', {}, 5000);
      assert.equal(res.statusCode, null);
      assert.match(res.error ?? '', /local name|loopback/);
      assert.equal(rx.received.length, 0);
      // Allowed explicitly, the same lookup answers.
      const allowed = new NetworkPolicy(['127.0.0.1', '::1']);
      const ok = await new Promise<unknown>((resolve) => allowed.guardedLookup()('localhost', { all: true }, (err, addresses) => resolve(err ?? addresses)));
      assert.ok(Array.isArray(ok), String(ok));
    } finally {
      await rx.close();
    }
  });
});

forEachDatabase('channels: API and delivery', (kind) => {
  let t: TestTenant;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let ws: string;
  before(async () => {
    rx = await startReceiver();
    t = await startTestTenant(kind, {
      listen: true,
      env: { CHANNEL_ALLOWED_NETWORKS: '127.0.0.1', CHANNEL_DELIVERY_POLL_MS: '50', CHANNEL_DELIVERY_BACKOFF_MS: '100', CHANNEL_DELIVERY_MAX_ATTEMPTS: '3', CHANNEL_DELIVERY_TIMEOUT_MS: '5000' },
    });
    ws = (await t.createWorkspace()).id;
  });
  after(async () => {
    await t.close();
    await rx.close();
  });

  const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers = t.admin()) =>
    t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  const create = async (body: Record<string, unknown>, workspace = ws) => {
    const res = await inject('POST', `/workspaces/${workspace}/channels`, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as Channel;
  };
  const channelCount = async () => Number((await t.db.selectFrom('channels').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  const deliveries = async (channelId: string, workspace = ws) => {
    const res = await inject('GET', `/workspaces/${workspace}/channels/${channelId}/deliveries`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Delivery[];
  };

  it('creates, lists, updates and deletes a channel; reads show the config masked, the row holds ciphertext only', async () => {
    const slackUrl = 'https://hooks.slack.com/services/T0SECRET/B0SECRET/xyzzySECRETtoken';
    const created = await create({ type: 'slack', config: { webhook_url: slackUrl }, allowed_users: ['U123', 'U123', 'U456'] });
    assert.deepEqual(Object.keys(created).sort(), ['allowed_users', 'config', 'created_at', 'enabled', 'events', 'id', 'type', 'updated_at', 'workspace_id']);
    assert.equal(created.type, 'slack');
    assert.equal(created.workspace_id, ws);
    assert.deepEqual(created.config, { webhook_url: 'https://hooks.slack.com/services/T0****' });
    assert.deepEqual(created.allowed_users, ['U123', 'U456']);
    assert.equal(created.enabled, true);
    assert.deepEqual(created.events, ['APPROVAL_REQUESTED', 'WORKSPACE_PROVISION_FAILED', 'WORKSPACE_OFFLINE', 'BUDGET_EXCEEDED']);

    const list = await inject('GET', `/workspaces/${ws}/channels`);
    assert.equal(list.statusCode, 200);
    assert.ok(!list.body.includes('SECRET'), 'a read never carries the credential');
    assert.deepEqual((list.json() as Channel[]).find((c) => c.id === created.id)?.config, created.config);

    const row = await t.db.selectFrom('channels').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.ok(!row.config_ciphertext.includes('SECRET') && !Buffer.from(row.config_ciphertext, 'base64').toString('latin1').includes('SECRET'), 'ciphertext, not plaintext');
    assert.ok(!JSON.stringify(row.config_masked).includes('SECRET'));

    const patched = await inject('PATCH', `/workspaces/${ws}/channels/${created.id}`, { enabled: false, events: ['WORKSPACE_OFFLINE'] });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal((patched.json() as Channel).enabled, false);
    assert.deepEqual((patched.json() as Channel).events, ['WORKSPACE_OFFLINE']);
    assert.deepEqual((patched.json() as Channel).config, created.config, 'config unchanged when left out');

    const del = await inject('DELETE', `/workspaces/${ws}/channels/${created.id}`);
    assert.equal(del.statusCode, 200, del.body);
    assert.deepEqual(del.json(), { status: 'deleted' });
    const again = await inject('DELETE', `/workspaces/${ws}/channels/${created.id}`);
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'channel not found');

    const audited = await t.db.selectFrom('audit_events').select(['method', 'route', 'status']).where('route', 'like', '/workspaces/:id/channels%').execute();
    assert.ok(audited.some((a) => a.method === 'POST' && a.status === 201));
    assert.ok(audited.some((a) => a.method === 'PATCH' && a.status === 200));
    assert.ok(audited.some((a) => a.method === 'DELETE' && a.status === 200));
  });

  it('a webhook without a secret gets one, shown once at creation and never again', async () => {
    const created = await create({ type: 'webhook', config: { url: `${rx.base}/hook-once` } });
    assert.match(created.signing_secret ?? '', /^whsec_[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(created.config, { url: `${rx.base}/ho****`, secret: '****' });
    const list = await inject('GET', `/workspaces/${ws}/channels`);
    assert.ok(!list.body.includes(created.signing_secret!));
    await inject('DELETE', `/workspaces/${ws}/channels/${created.id}`);
  });

  it('bad input is a 400 naming the problem, and nothing is written', async () => {
    const before = await channelCount();
    const cases: Array<[unknown, RegExp]> = [
      [{ type: 'email', config: {} }, /type/],
      [{ type: 'slack', config: { webhook_url: 'https://example.com/services/x' } }, /Slack incoming-webhook URL/],
      [{ type: 'slack', config: {} }, /webhook_url, or config.bot_token/],
      [{ type: 'discord', config: { webhook_url: 'https://discord.com/not-a-webhook' } }, /Discord webhook URL/],
      [{ type: 'webhook', config: { url: 'ftp://example.com/x' } }, /http\(s\) URL/],
      [{ type: 'webhook', config: { url: 'not a url' } }, /absolute http\(s\) URL/],
      [{ type: 'webhook', config: { url: 'https://example.com/x', secret: 'short' } }, /at least 16/],
      [{ type: 'webhook', config: { url: 'https://example.com/x', extra: 'x' } }, /config.extra is not a field/],
      [{ type: 'webhook', config: { url: 'https://user:pw@example.com/x' } }, /credentials/],
      [{ type: 'webhook', config: { url: 'https://example.com/x' }, events: [] }, /events/],
      [{ type: 'webhook', config: { url: 'https://example.com/x' }, surprise: 1 }, /surprise|additional/],
    ];
    for (const [body, message] of cases) {
      const res = await inject('POST', `/workspaces/${ws}/channels`, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)} → ${res.body}`);
      assert.match(res.json().error + JSON.stringify(res.json()), message, JSON.stringify(body));
    }
    const missing = await inject('POST', `/workspaces/00000000-0000-4000-8000-000000000000/channels`, { type: 'webhook', config: { url: 'https://example.com/x' } });
    assert.equal(missing.statusCode, 404);
    assert.equal(await channelCount(), before, 'nothing written');
    const c = await create({ type: 'webhook', config: { url: `${rx.base}/keep`, secret: 'a-signing-secret-0123' } });
    const bad = await inject('PATCH', `/workspaces/${ws}/channels/${c.id}`, { config: { url: 'http://10.0.0.5/x' }, enabled: false });
    assert.equal(bad.statusCode, 400);
    const row = (await inject('GET', `/workspaces/${ws}/channels`)).json() as Channel[];
    assert.equal(row.find((x) => x.id === c.id)?.enabled, true, 'a refused PATCH changes nothing');
    await inject('DELETE', `/workspaces/${ws}/channels/${c.id}`);
  });

  it('roles: a reader lists, an editor writes, a workspace token is refused, a key bound elsewhere gets 404', async () => {
    const reader = t.as((await t.mintKey({ role: 'reader' })).auth_token);
    const editor = t.as((await t.mintKey({ role: 'editor' })).auth_token);
    const body = { type: 'webhook', config: { url: `${rx.base}/roles`, secret: 'a-signing-secret-0123' } };
    assert.equal((await inject('GET', `/workspaces/${ws}/channels`, undefined, reader)).statusCode, 200);
    const denied = await inject('POST', `/workspaces/${ws}/channels`, body, reader);
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 'ROLE_FORBIDDEN');
    const made = await inject('POST', `/workspaces/${ws}/channels`, body, editor);
    assert.equal(made.statusCode, 201, made.body);
    const other = await t.createWorkspace();
    const wsToken = t.as(other.auth_token);
    assert.equal((await inject('GET', `/workspaces/${other.id}/channels`, undefined, wsToken)).statusCode, 401);
    const bound = t.as((await t.mintKey({ role: 'editor', workspace_ids: [other.id] })).auth_token);
    assert.equal((await inject('GET', `/workspaces/${ws}/channels`, undefined, bound)).statusCode, 404);
    await inject('DELETE', `/workspaces/${ws}/channels/${(made.json() as Channel).id}`);
  });

  it('refuses private, loopback and metadata addresses by default (SSRF)', async () => {
    const strict = await startTestTenant(kind);
    try {
      const w = await strict.createWorkspace();
      for (const url of ['http://127.0.0.1:9/x', 'http://169.254.169.254/latest/meta-data', 'http://10.1.2.3/x', 'http://[::1]/x', 'http://localhost/x', 'http://192.168.1.1/x', 'http://[::ffff:127.0.0.1]/x']) {
        const res = await strict.app.inject({ method: 'POST', url: `/workspaces/${w.id}/channels`, headers: strict.admin(), payload: { type: 'webhook', config: { url } } });
        assert.equal(res.statusCode, 400, `${url} → ${res.body}`);
        assert.match(res.json().error, /not allowed/);
      }
      // The Slack shape check is not loosened either: a loopback "relay" is only accepted when an operator listed it.
      const slack = await strict.app.inject({ method: 'POST', url: `/workspaces/${w.id}/channels`, headers: strict.admin(), payload: { type: 'slack', config: { webhook_url: 'http://127.0.0.1:9/services/x' } } });
      assert.equal(slack.statusCode, 400);
      assert.equal(Number((await strict.db.selectFrom('channels').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n), 0);
    } finally {
      await strict.close();
    }
  });

  it('the test endpoint sends now and answers the result; Slack and Discord get their incoming-webhook formats', async () => {
    const slack = await create({ type: 'slack', config: { webhook_url: `${rx.base}/services/T1/B1/slacktoken` } });
    const res = await inject('POST', `/workspaces/${ws}/channels/${slack.id}/test`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().ok, true);
    assert.equal(res.json().status_code, 200);
    const got = await rx.waitFor((r) => r.path === '/services/T1/B1/slacktoken');
    const slackBody = JSON.parse(got.body) as { text: string; blocks: Array<{ type: string; text: { text: string } }> };
    assert.match(slackBody.text, /CHANNEL_TEST/);
    assert.equal(slackBody.blocks[0]?.type, 'section');

    const discord = await create({ type: 'discord', config: { webhook_url: `${rx.base}/api/webhooks/42/discordtoken` } });
    assert.deepEqual(discord.config, { webhook_url: `${rx.base}/api/webhooks/42****` });
    assert.equal((await inject('POST', `/workspaces/${ws}/channels/${discord.id}/test`)).json().ok, true);
    const dgot = await rx.waitFor((r) => r.path === '/api/webhooks/42/discordtoken');
    assert.deepEqual(Object.keys(JSON.parse(dgot.body)), ['content']);

    const down = await create({ type: 'webhook', config: { url: `${rx.base}/down`, secret: 'a-signing-secret-0123' } });
    const failed = await inject('POST', `/workspaces/${ws}/channels/${down.id}/test`);
    assert.equal(failed.statusCode, 200);
    assert.deepEqual({ ok: failed.json().ok, status_code: failed.json().status_code }, { ok: false, status_code: 503 });
    assert.match(failed.json().error, /HTTP 503/);
    const log = await deliveries(down.id);
    assert.equal(log.length, 1);
    assert.equal(log[0]!.event_type, 'CHANNEL_TEST');
    assert.equal(log[0]!.status, 'failed');
    for (const c of [slack, discord, down]) await inject('DELETE', `/workspaces/${ws}/channels/${c.id}`);
  });

  it('a webhook delivery is signed, retried with backoff (500, 500, 200: three attempts, one success) and logged', async () => {
    const secret = 'whsec-test-secret-0123456789';
    const c = await create({ type: 'webhook', config: { url: `${rx.base}/flaky-${ws}`, secret }, events: ['BUDGET_UPDATED'] });
    // A real event through the API: the budget change is recorded on the workspace's event log.
    const patch = await inject('PATCH', `/workspaces/${ws}/budget`, { budget_limits: { daily: 500 } });
    assert.equal(patch.statusCode, 200, patch.body);
    const delivered = await waitUntil('the delivery to succeed', async () => {
      const [d] = await deliveries(c.id);
      return d?.status === 'delivered' ? d : undefined;
    });
    assert.equal(delivered.event_type, 'BUDGET_UPDATED');
    assert.equal(delivered.attempts, 3);
    assert.deepEqual(delivered.attempt_log.map((a) => a.status_code), [500, 500, 200]);
    assert.equal(delivered.attempt_log.filter((a) => a.error === null).length, 1, 'exactly one success');
    assert.match(delivered.attempt_log[0]!.error ?? '', /HTTP 500/);
    assert.equal(delivered.next_attempt_at, null);
    const sent = rx.received.filter((r) => r.path === `/flaky-${ws}`);
    assert.equal(sent.length, 3);
    for (const r of sent) {
      assert.ok(verifySignature(secret, r.headers['x-molecule-signature'] as string, r.body), 'every attempt carries a valid signature');
      assert.equal(r.headers['x-molecule-delivery-id'], delivered.id, 'one delivery id across retries (receivers de-duplicate on it)');
    }
    const body = JSON.parse(sent[2]!.body) as { id: string; type: string; workspace_id: string; created_at: string; payload: { budget_limits: unknown } };
    assert.deepEqual(Object.keys(body), ['id', 'type', 'workspace_id', 'created_at', 'payload']);
    assert.equal(body.type, 'BUDGET_UPDATED');
    assert.equal(body.workspace_id, ws);
    assert.deepEqual(body.payload.budget_limits, { daily: 500 });
    assert.ok(!verifySignature('wrong-secret-0123456789', sent[2]!.headers['x-molecule-signature'] as string, sent[2]!.body));
    await inject('DELETE', `/workspaces/${ws}/channels/${c.id}`);
  });

  it('a spend report that pushes a budget period over its limit is delivered as BUDGET_EXCEEDED (once per crossing)', async () => {
    const w = await t.createWorkspace();
    const c = await create({ type: 'discord', config: { webhook_url: `${rx.base}/api/webhooks/budget/${w.id}` } }, w.id);
    assert.ok(c.events.includes('BUDGET_EXCEEDED'), 'a default event');
    assert.equal((await inject('PATCH', `/workspaces/${w.id}/budget`, { budget_limits: { daily: 100 } })).statusCode, 200);
    const beat = (spend: number) =>
      t.app.inject({ method: 'POST', url: '/registry/heartbeat', headers: { authorization: `Bearer ${w.auth_token}` }, payload: { workspace_id: w.id, monthly_spend: spend } });
    assert.equal((await beat(60)).statusCode, 200);
    assert.equal((await beat(150)).statusCode, 200);
    assert.equal((await beat(170)).statusCode, 200); // already over: no second alert
    const got = await rx.waitFor((r) => r.path === `/api/webhooks/budget/${w.id}`);
    assert.match((JSON.parse(got.body) as { content: string }).content, /BUDGET_EXCEEDED .*daily 150\/100 cents/);
    const events = await t.db.selectFrom('workspace_events').select('event_type').where('workspace_id', '=', w.id).where('event_type', '=', 'BUDGET_EXCEEDED').execute();
    assert.equal(events.length, 1);
  });

  it('gives up after CHANNEL_DELIVERY_MAX_ATTEMPTS; a disabled channel gets nothing', async () => {
    const down = await create({ type: 'webhook', config: { url: `${rx.base}/down-${ws}`, secret: 'a-signing-secret-0123' }, events: ['BUDGET_UPDATED'] });
    const off = await create({ type: 'webhook', config: { url: `${rx.base}/off-${ws}`, secret: 'a-signing-secret-0123' }, events: ['BUDGET_UPDATED'], enabled: false });
    assert.equal((await inject('PATCH', `/workspaces/${ws}/budget`, { budget_limits: { daily: 700 } })).statusCode, 200);
    const gaveUp = await waitUntil('the delivery to fail', async () => {
      const [d] = await deliveries(down.id);
      return d?.status === 'failed' ? d : undefined;
    });
    assert.equal(gaveUp.attempts, 3);
    assert.deepEqual(gaveUp.attempt_log.map((a) => a.status_code), [503, 503, 503]);
    assert.equal((await deliveries(off.id)).length, 0);
    assert.equal(rx.received.filter((r) => r.path === `/off-${ws}`).length, 0);
    for (const c of [down, off]) await inject('DELETE', `/workspaces/${ws}/channels/${c.id}`);
  });
});

forEachDatabase('channels from org import and in org export', (kind) => {
  let t: TestTenant;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    rx = await startReceiver();
    t = await startTestTenant(kind, { listen: true, env: { CHANNEL_ALLOWED_NETWORKS: '127.0.0.1', CHANNEL_DELIVERY_POLL_MS: '50' } });
  });
  after(async () => {
    await t.close();
    await rx.close();
  });
  const importOrg = (template: unknown, query = '') => t.app.inject({ method: 'POST', url: `/org/import${query}`, headers: t.admin(), payload: { template } as object });
  const counts = async () => ({
    workspaces: Number((await t.db.selectFrom('workspaces').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n),
    channels: Number((await t.db.selectFrom('channels').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n),
  });

  it('creates channels[] with ${VAR} expansion from org secrets; an unresolved variable skips that channel and says so', async () => {
    for (const [key, value] of [
      ['HOOK_URL', `${rx.base}/imported`],
      ['HOOK_SECRET', 'imported-signing-secret-0123'],
    ]) {
      assert.equal((await t.app.inject({ method: 'POST', url: '/settings/secrets', headers: t.admin(), payload: { key, value } })).statusCode, 200);
    }
    const template = {
      name: 'with-channels',
      workspaces: [
        {
          name: 'notifier',
          external: true,
          channels: [
            { type: 'webhook', config: { url: '${HOOK_URL}', secret: '${NOT_SET_ANYWHERE}' } },
            { type: 'webhook', config: { url: '${HOOK_URL}/b', secret: '${HOOK_SECRET}' }, allowed_users: ['alice'], events: ['WORKSPACE_UPDATED'] },
          ],
        },
      ],
    };
    const dry = await importOrg(template, '?dry_run=true');
    assert.equal(dry.statusCode, 200, dry.body);
    assert.deepEqual(dry.json().plan, [{ action: 'create', name: 'notifier', path: 'notifier', channels: ['webhook', 'webhook'] }]);
    assert.equal((await counts()).channels, 0, 'a dry run writes nothing');

    const res = await importOrg(template);
    assert.equal(res.statusCode, 201, res.body);
    const entry = (res.json() as { workspaces: Array<{ id: string; channels?: string[]; channels_skipped?: unknown }> }).workspaces[0]!;
    assert.deepEqual(entry.channels, ['webhook']);
    assert.deepEqual(entry.channels_skipped, [{ index: 0, type: 'webhook', missing: ['NOT_SET_ANYWHERE'] }]);
    const list = await t.app.inject({ method: 'GET', url: `/workspaces/${entry.id}/channels`, headers: t.admin() });
    const channels = list.json() as Channel[];
    assert.equal(channels.length, 1);
    assert.deepEqual(channels[0]!.config, { url: `${rx.base}/im****`, secret: '****' });
    assert.deepEqual(channels[0]!.allowed_users, ['alice']);
    assert.ok(!list.body.includes('imported-signing-secret'));

    // The expanded secret really is the signing key: a delivery verifies with it.
    assert.equal((await t.app.inject({ method: 'PATCH', url: `/workspaces/${entry.id}`, headers: t.admin(), payload: { role: 'pager' } })).statusCode, 200);
    const got = await rx.waitFor((r) => r.path === '/imported/b');
    assert.ok(verifySignature('imported-signing-secret-0123', got.headers['x-molecule-signature'] as string, got.body));

    const exported = await t.app.inject({ method: 'GET', url: '/org/export?format=json', headers: t.admin() });
    assert.equal(exported.statusCode, 200);
    assert.ok(!exported.body.includes('imported-signing-secret') && !exported.body.includes(rx.base), 'no credential in the export');
    const node = (exported.json() as { workspaces: Array<{ name: string; channels?: unknown }> }).workspaces.find((w) => w.name === 'notifier');
    assert.deepEqual(node?.channels, [{ type: 'webhook', config: { url: '${WEBHOOK_URL}', secret: '${WEBHOOK_SECRET}' }, allowed_users: ['alice'], enabled: true, events: ['WORKSPACE_UPDATED'] }]);
  });

  it('a channel whose expanded config is invalid fails the whole import (400 naming the field), and nothing is written', async () => {
    const before = await counts();
    const res = await importOrg({ name: 'bad-channel', workspaces: [{ name: 'bad', external: true, children: [{ name: 'kid', external: true, channels: [{ type: 'slack', config: { webhook_url: 'https://example.com/x' } }] }] }] });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().field, 'workspaces[0].children[0].channels[0].config.webhook_url');
    const unknownField = await importOrg({ name: 'bad-channel', workspaces: [{ name: 'bad', channels: [{ type: 'webhook', config: { url: 'https://example.com/x' }, surprise: true }] }] });
    assert.equal(unknownField.statusCode, 400, unknownField.body);
    assert.deepEqual(await counts(), before);
  });
});

forEachDatabase('channels: at least once across a restart', (kind) => {
  it('an event recorded while no delivery worker runs is delivered by the next tenant process on that database', async () => {
    const rx = await startReceiver();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'molecule-channel-restart-'));
    const scratch = kind === 'postgres' ? await createScratchDatabase() : null;
    // One database and one encryption key for both processes, as after a real restart.
    const env = {
      ...(scratch ? { DATABASE_URL: scratch.url } : { MOLECULE_DATA_DIR: dataDir }),
      SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      CHANNEL_ALLOWED_NETWORKS: '127.0.0.1',
      CHANNEL_DELIVERY_POLL_MS: '50',
    };
    try {
      // First process: not listening, so its delivery worker never starts (as if it died right after the commit).
      const first = await startTestTenant(kind, { env });
      const w = await first.createWorkspace();
      const made = await first.app.inject({
        method: 'POST',
        url: `/workspaces/${w.id}/channels`,
        headers: first.admin(),
        payload: { type: 'webhook', config: { url: `${rx.base}/restart`, secret: 'restart-signing-secret-01' }, events: ['BUDGET_UPDATED'] },
      });
      assert.equal(made.statusCode, 201, made.body);
      assert.equal((await first.app.inject({ method: 'PATCH', url: `/workspaces/${w.id}/budget`, headers: first.admin(), payload: { budget_limits: { weekly: 900 } } })).statusCode, 200);
      await first.close();
      assert.equal(rx.received.length, 0, 'nothing was sent by the first process');
      const second = await startTestTenant(kind, { env, listen: true });
      try {
        const got = await rx.waitFor((r) => r.path === '/restart');
        assert.ok(verifySignature('restart-signing-secret-01', got.headers['x-molecule-signature'] as string, got.body));
        assert.equal((JSON.parse(got.body) as { type: string }).type, 'BUDGET_UPDATED');
      } finally {
        await second.close();
      }
    } finally {
      await rx.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

forEachDatabase('channels: key rotation', (kind) => {
  it('`secrets rotate-key` re-encrypts channel configs too, so the old key can be dropped', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const t = await startTestTenant(kind, { env: { SECRETS_ENCRYPTION_KEY: oldKey.toString('base64') } });
    try {
      const w = await t.createWorkspace();
      const res = await t.app.inject({ method: 'POST', url: `/workspaces/${w.id}/channels`, headers: t.admin(), payload: { type: 'discord', config: { webhook_url: 'https://discord.com/api/webhooks/1/rotate-me' } } });
      assert.equal(res.statusCode, 201, res.body);
      const result = await reencryptSecrets(t.db, new SecretCipher(newKey, [oldKey]));
      assert.equal(result.channelRows, 1);
      assert.deepEqual(result.failed, []);
      const row = await t.db.selectFrom('channels').selectAll().where('workspace_id', '=', w.id).executeTakeFirstOrThrow();
      assert.equal(row.config_key_id, keyIdOf(newKey));
      assert.deepEqual(openConfig(new SecretCipher(newKey), row), { webhook_url: 'https://discord.com/api/webhooks/1/rotate-me' }, 'readable with the new key alone');
    } finally {
      await t.close();
    }
  });
});

forEachDatabase('channels on real processes', (kind) => {
  let t: TestTenant;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let agentHome: string;
  before(async () => {
    rx = await startReceiver();
    agentHome = mkdtempSync(path.join(tmpdir(), 'molecule-channel-agents-'));
    t = await startTestTenant(kind, {
      listen: true,
      env: {
        WORKSPACE_PROVISIONER: 'local',
        HEARTBEAT_INTERVAL_SECONDS: '1',
        PROVISION_TIMEOUT_SECONDS: '30',
        AGENT_HOME_DIR: agentHome,
        CHANNEL_ALLOWED_NETWORKS: '127.0.0.1',
        CHANNEL_DELIVERY_POLL_MS: '100',
      },
    });
  });
  after(async () => {
    await t.close();
    await rx.close();
    rmSync(agentHome, { recursive: true, force: true });
  });

  describe('Done-when', () => {
    it('a webhook channel on a workspace receives a signed delivery when that workspace’s runtime is killed into failed', async () => {
      const ws = await t.createWorkspace({ template: 'failing-agent' });
      const secret = 'done-when-signing-secret-0123';
      const res = await t.app.inject({ method: 'POST', url: `/workspaces/${ws.id}/channels`, headers: t.admin(), payload: { type: 'webhook', config: { url: `${rx.base}/done-when`, secret } } });
      assert.equal(res.statusCode, 201, res.body);
      const got = await rx.waitFor((r) => r.path === '/done-when' && (JSON.parse(r.body) as { type: string }).type === 'WORKSPACE_PROVISION_FAILED', 90_000);
      assert.ok(verifySignature(secret, got.headers['x-molecule-signature'] as string, got.body), 'the HMAC signature verifies');
      const body = JSON.parse(got.body) as { workspace_id: string; payload: { error: string } };
      assert.equal(body.workspace_id, ws.id);
      assert.match(body.payload.error, /crash loop/);
      const status = (await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).json() as { status: string };
      assert.equal(status.status, 'failed');
    });
  });
});
