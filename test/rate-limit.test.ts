import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRateLimiter, MemoryRateLimiter, type RateLimiter } from '../src/core/rate-limit.js';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

async function redisProblem(): Promise<string | null> {
  try {
    const limiter = await Promise.race([
      createRateLimiter(REDIS_URL),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connect timeout')), 2000)),
    ]);
    await limiter.close();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const problem = await redisProblem();
if (problem && process.env['CI'] === 'true') throw new Error(`Redis is mandatory under CI=true but ${REDIS_URL} is not reachable: ${problem}`);

/** One contract, both implementations: the in-memory one and Redis (shared across replicas). */
for (const [name, make, skip] of [
  ['memory', async () => new MemoryRateLimiter() as RateLimiter, false],
  ['redis', () => createRateLimiter(REDIS_URL), problem ? `Redis not reachable (${problem})` : false],
] as const) {
  describe(`rate limiter [${name}]`, { skip }, () => {
    let limiter: RateLimiter;
    before(async () => {
      limiter = await make();
    });
    after(() => limiter.close());

    it('allows `limit` hits per window, then refuses with the time to reset', async () => {
      const key = `test:${randomBytes(6).toString('hex')}`;
      for (let i = 1; i <= 3; i++) {
        const d = await limiter.hit(key, 3, 60_000);
        assert.equal(d.allowed, true);
        assert.equal(d.remaining, 3 - i);
      }
      const refused = await limiter.hit(key, 3, 60_000);
      assert.equal(refused.allowed, false);
      assert.equal(refused.remaining, 0);
      assert.ok(refused.resetMs > 50_000 && refused.resetMs <= 60_000, `resetMs ${refused.resetMs}`);
    });

    it('keeps keys independent and opens a new window when the old one ends', async () => {
      const a = `test:${randomBytes(6).toString('hex')}`;
      const b = `test:${randomBytes(6).toString('hex')}`;
      assert.equal((await limiter.hit(a, 1, 300)).allowed, true);
      assert.equal((await limiter.hit(a, 1, 300)).allowed, false);
      assert.equal((await limiter.hit(b, 1, 300)).allowed, true);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await limiter.hit(a, 1, 300)).allowed, true);
    });

    it('counts concurrent hits exactly', async () => {
      const key = `test:${randomBytes(6).toString('hex')}`;
      const results = await Promise.all(Array.from({ length: 25 }, () => limiter.hit(key, 10, 60_000)));
      assert.equal(results.filter((d) => d.allowed).length, 10);
    });
  });
}
