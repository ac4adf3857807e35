/**
 * Control-plane abuse resistance (issue 7 items 3, 7 and 8): one request must not stall the process, the free-org
 * quota must hold under concurrency, and sign-in limits must hold per address and never lock out the operator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { passwordWork } from '../src/control-plane/auth/passwords.js';
import { startTestControlPlane, uniqueSlug, type TestControlPlane } from './cp-harness.js';
import { forEachDatabase } from './harness.js';

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

forEachDatabase('control plane: a huge org name cannot stall the process', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
  });
  after(() => cp.close());

  it('a 120 KB org name is answered 400 naming the field, and /health polled meanwhile is not held up', async () => {
    const owner = await cp.signup();
    const health = async () => (await timed(async () => (await fetch(`${cp.url}/health`)).status)).ms;
    const baseline = Math.max(await health(), await health(), await health());
    // The input that made the old pattern quadratic: a long run of text ending in a control character.
    const name = `${'a'.repeat(120 * 1024)}\t`;
    let done = false;
    const attack = timed(async () => {
      const res = await fetch(`${cp.url}/api/v1/orgs`, {
        method: 'POST',
        headers: { ...cp.as(owner), 'content-type': 'application/json' },
        body: JSON.stringify({ slug: uniqueSlug(), name }),
      });
      done = true;
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    });
    // Poll /health back to back while the attack is in flight: a stalled event loop shows as one long wait.
    const waits: number[] = [];
    while (!done) waits.push(await health());
    const { value, ms } = await attack;
    assert.equal(value.status, 400);
    assert.equal(value.body['code'], 'VALIDATION_FAILED');
    assert.equal(value.body['field'], 'name');
    assert.equal(value.body['error'], 'name must be 1-100 characters, not blank, without control characters');
    // Before the fix the request took 9.9 s and a parallel /health waited 9.4 s. Relative, generous bounds.
    const bound = 2000 + 20 * baseline;
    assert.ok(ms < bound, `the attack was answered in ${Math.round(ms)} ms (bound ${Math.round(bound)} ms)`);
    assert.ok(Math.max(0, ...waits) < bound, `/health waited at most ${Math.round(Math.max(0, ...waits))} ms (bound ${Math.round(bound)} ms)`);
    assert.equal(await cp.db.selectFrom('organizations').select('id').where('name', 'like', 'aaaa%').executeTakeFirst(), undefined);
  });
});

forEachDatabase('control plane: the free-org quota holds under concurrent creates', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { MAX_FREE_ORGS_PER_USER: '3' } });
  });
  after(() => cp.close());

  it('20 concurrent POST /orgs by one user: exactly the cap succeed, the rest 402, and the count matches', async () => {
    const owner = await cp.signup();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cp.app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug: uniqueSlug(`race${i}`), name: `Race ${i}` } }),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 201).length, 3, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 402).length, 17, `statuses: ${statuses.join(',')}`);
    for (const r of results.filter((x) => x.statusCode === 402)) {
      assert.equal(r.json().code, 'PAYMENT_REQUIRED');
      assert.equal(r.json().quota, 3);
    }
    const owned = await cp.db
      .selectFrom('org_members')
      .innerJoin('organizations', 'organizations.id', 'org_members.org_id')
      .select('organizations.id')
      .where('org_members.user_id', '=', owner.userId)
      .where('org_members.role', '=', 'owner')
      .execute();
    assert.equal(owned.length, 3);
    // Another user's quota is their own.
    const other = await cp.signup();
    assert.equal((await cp.createOrg(other)).status, 'provisioning');
  });
});

forEachDatabase('control plane: password sign-in limits per address', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { LOGIN_ADDRESS_LIMIT: '5', LOGIN_ATTEMPT_LIMIT: '3' } });
  });
  after(() => cp.close());

  const login = (email: string, password: string, remoteAddress: string) =>
    cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });

  it('spraying many emails from one address hits the per-address limit; other addresses are unaffected', async () => {
    const user = await cp.signup();
    for (let i = 0; i < 5; i++) {
      const res = await login(`spray-${i}@example.com`, 'Winter2026!!', '203.0.113.9');
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().code, 'INVALID_CREDENTIALS');
    }
    const limited = await login('spray-5@example.com', 'Winter2026!!', '203.0.113.9');
    assert.equal(limited.statusCode, 429, limited.body);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.ok(Number(limited.json().retry_after) > 0);
    // The address is limited for every account, the right password included; another address signs in.
    assert.equal((await login(user.email, user.password, '203.0.113.9')).statusCode, 429);
    const elsewhere = await login(user.email, user.password, '198.51.100.4');
    assert.equal(elsewhere.statusCode, 200, elsewhere.body);
    assert.equal(elsewhere.json().user_id, user.userId);
  });

  it('the per-email limit still applies below the per-address one', async () => {
    const user = await cp.signup();
    for (let i = 0; i < 3; i++) assert.equal((await login(user.email, 'not the password', '192.0.2.33')).statusCode, 401);
    assert.equal((await login(user.email, 'not the password', '192.0.2.33')).statusCode, 429);
    assert.equal((await login('someone-else@example.com', 'not the password', '192.0.2.33')).statusCode, 401);
  });
});

forEachDatabase('control plane: failed admin bearers never lock out the right token', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { ADMIN_AUTH_FAILURE_LIMIT: '3' } });
  });
  after(() => cp.close());

  it('a client locked out for wrong tokens still gets 200 with the right one; wrong ones stay 429', async () => {
    const attempt = (bearer: string) =>
      cp.app.inject({ method: 'GET', url: '/api/v1/admin/orgs', headers: { authorization: `Bearer ${bearer}` }, remoteAddress: '10.9.9.9' });
    for (let i = 0; i < 3; i++) assert.equal((await attempt(`wrong-${i}-guess-of-the-token`)).statusCode, 401);
    const limited = await attempt('wrong-3-guess-of-the-token');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    const right = await attempt(cp.adminToken);
    assert.equal(right.statusCode, 200, right.body);
    assert.ok(Array.isArray(right.json().orgs), right.body);
    // Successes do not reset the count: the next wrong guess from the same client is still refused.
    assert.equal((await attempt('wrong-4-guess-of-the-token')).statusCode, 429);
  });
});

describe('control plane: scrypt work is capped process-wide', () => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane('pglite', { env: { PASSWORD_HASH_CONCURRENCY: '2', PASSWORD_HASH_QUEUE_LIMIT: '100' } });
  });
  after(async () => {
    passwordWork.beforeDerive = null;
    await cp.close();
  });

  it('20 concurrent sign-ins never run more than PASSWORD_HASH_CONCURRENCY derivations at once, and all are answered', async () => {
    const user = await cp.signup();
    const total = 20;
    let inFlight = 0;
    let peak = 0;
    let completed = 0;
    // Counted inside the work slot, around real derivations. Each one waits until a second is in flight (or every
    // request has reached the gate), so overlap is certain: without the cap all 20 would pile up here.
    passwordWork.beforeDerive = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await waitFor(() => inFlight >= 2 || completed + inFlight + passwordWork.queued >= total);
    };
    passwordWork.afterDerive = () => {
      inFlight--;
      completed++;
    };
    const results = await Promise.all(
      Array.from({ length: total }, (_, i) =>
        cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: i % 2 ? user.password : 'wrong password' } }),
      ),
    );
    assert.deepEqual(results.map((r) => r.statusCode), Array.from({ length: total }, (_, i) => (i % 2 ? 200 : 401)));
    assert.equal(peak, 2, 'derivations ran concurrently, but never more than the cap');
    assert.equal(inFlight, 0);
    assert.equal(completed, total);
  });

  it('beyond the queue bound a sign-in is refused at once with 429 and Retry-After, and changes nothing', async () => {
    passwordWork.afterDerive = null;
    const user = await cp.signup();
    // Hold every derivation until the test lets go, so the slots and the queue fill deterministically.
    const held: Array<() => void> = [];
    passwordWork.beforeDerive = () => new Promise<void>((resolve) => held.push(resolve));
    passwordWork.configure({ maxConcurrent: 1, maxQueued: 2 });
    try {
      const login = () => cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } });
      const admitted = [login(), login(), login()];
      await waitFor(() => held.length === 1 && passwordWork.queued === 2);
      const refused = await login();
      assert.equal(refused.statusCode, 429, refused.body);
      assert.equal(refused.json().code, 'RATE_LIMITED');
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.ok(Number(refused.json().retry_after) > 0);
      assert.equal(refused.headers['set-cookie'], undefined);
      // Let the held work go: the admitted sign-ins all complete.
      passwordWork.beforeDerive = null;
      held.forEach((release) => release());
      assert.deepEqual((await Promise.all(admitted)).map((r) => r.statusCode), [200, 200, 200]);
    } finally {
      passwordWork.beforeDerive = null;
      passwordWork.configure({ maxConcurrent: 2, maxQueued: 100 });
    }
  });
});

async function waitFor(condition: () => boolean, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 5));
  }
}
