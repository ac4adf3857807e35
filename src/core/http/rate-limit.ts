import type { FastifyReply } from 'fastify';
import { DomainError } from '../errors.js';
import type { RateLimiter } from '../rate-limit.js';

/**
 * Applies one limit to one caller key: sets the RateLimit headers on every answer and, past the limit, throws
 * 429 with `retry_after` in the body and `Retry-After` in the headers (reference §9.1).
 */
export async function enforceRateLimit(reply: FastifyReply, limiter: RateLimiter, key: string, limit: number, windowMs: number): Promise<void> {
  const d = await limiter.hit(key, limit, windowMs);
  const resetSeconds = Math.max(1, Math.ceil(d.resetMs / 1000));
  reply.header('x-ratelimit-limit', String(d.limit));
  reply.header('x-ratelimit-remaining', String(d.remaining));
  reply.header('x-ratelimit-reset', String(resetSeconds));
  if (!d.allowed) {
    reply.header('retry-after', String(resetSeconds));
    throw new DomainError('RATE_LIMITED', undefined, { retry_after: resetSeconds });
  }
}
