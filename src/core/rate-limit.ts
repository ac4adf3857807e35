import type { RedisClientType } from 'redis';

/** The outcome of one hit against a fixed window. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/**
 * Fixed-window counters keyed by caller. Two implementations chosen in one place from config: in-memory for one
 * process, Redis for replicas sharing a limit (DESIGN.md §3).
 */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;
  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }
  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count += 1;
    return { allowed: w.count <= limit, limit, remaining: Math.max(0, limit - w.count), resetMs: w.resetAt - now };
  }
  private sweep() {
    const now = this.now();
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
  }
  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly client: RedisClientType,
    private readonly namespace = 'molecule:rl:',
  ) {}
  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    const k = this.namespace + key;
    // INCR then set the expiry only on the window's first hit: one round trip, atomic per key.
    const [count, , ttl] = (await this.client.multi().incr(k).pExpire(k, windowMs, 'NX').pTTL(k).exec()) as unknown as [number, number, number];
    const resetMs = ttl > 0 ? ttl : windowMs;
    return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetMs };
  }
  async close(): Promise<void> {
    await this.client.quit();
  }
}

export async function createRateLimiter(redisUrl: string | undefined): Promise<RateLimiter> {
  if (!redisUrl) return new MemoryRateLimiter();
  const { createClient } = await import('redis');
  const client = createClient({ url: redisUrl });
  client.on('error', () => undefined); // reported by the failing command instead
  await client.connect();
  return new RedisRateLimiter(client as RedisClientType);
}
