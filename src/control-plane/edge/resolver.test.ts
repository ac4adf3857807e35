import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CachingTenantResolver, type TenantLocation, type TenantResolver } from './resolver.js';

/** The cache's own rules, against an inner resolver whose answers the test sets (the database one is tested in test/edge.test.ts). */
class Scripted implements TenantResolver {
  calls = 0;
  constructor(public answer: TenantLocation) {}
  async resolve(): Promise<TenantLocation> {
    this.calls += 1;
    return this.answer;
  }
}

describe('CachingTenantResolver', () => {
  it('remembers a ready answer for its TTL, and forgets it on request', async () => {
    const inner = new Scripted({ state: 'ready', url: 'http://127.0.0.1:1' });
    const cache = new CachingTenantResolver(inner, 60_000);
    await cache.resolve('acme');
    await cache.resolve('acme');
    assert.equal(inner.calls, 1);
    inner.answer = { state: 'unknown' };
    cache.forget('acme');
    assert.deepEqual(await cache.resolve('acme'), { state: 'unknown' });
    assert.equal(inner.calls, 2);
  });

  it('never remembers not-ready or unknown answers: a tenant that becomes ready is served on the next request', async () => {
    const inner = new Scripted({ state: 'not_ready', retryAfterSeconds: 5 });
    const cache = new CachingTenantResolver(inner, 60_000);
    await cache.resolve('acme');
    inner.answer = { state: 'ready', url: 'http://127.0.0.1:2' };
    assert.deepEqual(await cache.resolve('acme'), { state: 'ready', url: 'http://127.0.0.1:2' });
    assert.equal(inner.calls, 2);
  });

  it('a TTL of 0 remembers nothing; an expired answer is looked up again', async () => {
    const inner = new Scripted({ state: 'ready', url: 'http://127.0.0.1:3' });
    const off = new CachingTenantResolver(inner, 0);
    await off.resolve('a');
    await off.resolve('a');
    assert.equal(inner.calls, 2);
    const short = new CachingTenantResolver(inner, 1);
    await short.resolve('b');
    const deadline = Date.now() + 5;
    while (Date.now() <= deadline) await new Promise((r) => setImmediate(r));
    await short.resolve('b');
    assert.equal(inner.calls, 4);
  });
});
