import { createHash } from 'node:crypto';
import type { Logger } from 'pino';

export interface VerifiedSession {
  userId: string;
  role: string | null;
}

export interface SessionVerifierOptions {
  cpUpstreamUrl: string;
  slug: string;
  log: Logger;
  timeoutMs?: number;
  positiveTtlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Tier 1 of the tenant chain: a control-plane session cookie, confirmed by the CP's
 * `GET /cp/auth/tenant-member?slug=` (reference §2.6). Membership of *this* org is what is proved, so the cache is
 * keyed by slug and cookie together. Answers are cached 30 s when positive and 5 s when negative; a transport
 * error or timeout is never cached, so a CP blip cannot pin a "no" for anyone.
 */
export class SessionVerifier {
  private readonly cache = new Map<string, { session: VerifiedSession | null; expiresAt: number }>();
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly positiveTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: SessionVerifierOptions) {
    this.url = `${opts.cpUpstreamUrl.replace(/\/+$/, '')}/cp/auth/tenant-member?slug=${encodeURIComponent(opts.slug)}`;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.positiveTtlMs = opts.positiveTtlMs ?? 30_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 5_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  async verify(cookieHeader: string): Promise<VerifiedSession | null> {
    const key = createHash('sha256').update(this.opts.slug).update('\0').update(cookieHeader).digest('hex');
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit && hit.expiresAt > now) return hit.session;
    let session: VerifiedSession | null;
    try {
      const res = await fetch(this.url, {
        headers: { cookie: cookieHeader, 'user-agent': 'molecule-tenant/session-verifier', accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      });
      session = null;
      if (res.status === 200) {
        const body = (await res.json().catch(() => null)) as { member?: unknown; user_id?: unknown; role?: unknown } | null;
        if (body && body.member === true && typeof body.user_id === 'string' && body.user_id.length > 0) {
          session = { userId: body.user_id, role: typeof body.role === 'string' ? body.role : null };
        }
      } else {
        await res.body?.cancel();
      }
    } catch (err) {
      this.opts.log.warn({ err: { message: (err as Error).message } }, 'session verification failed (not cached)');
      return null;
    }
    if (this.cache.size >= this.maxEntries) this.evictSome();
    this.cache.set(key, { session, expiresAt: now + (session ? this.positiveTtlMs : this.negativeTtlMs) });
    return session;
  }

  private evictSome() {
    const now = this.now();
    for (const [k, v] of this.cache) if (v.expiresAt <= now) this.cache.delete(k);
    let n = 0;
    for (const k of this.cache.keys()) {
      if (this.cache.size < this.maxEntries || n++ > 128) break;
      this.cache.delete(k);
    }
  }
}

/** Only the `mcp_session` cookie counts as a session credential; other cookies are ignored. */
export function hasSessionCookie(cookieHeader: string | undefined): cookieHeader is string {
  return typeof cookieHeader === 'string' && /(?:^|;\s*)mcp_session=[^;\s]/.test(cookieHeader);
}
