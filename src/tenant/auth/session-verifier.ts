import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { isWellFormed } from '../../core/credentials/format.js';
import { readCookie } from '../../core/http/cookies.js';

/** The cookie the control plane sets; the only cookie tier 1 reads. */
export const SESSION_COOKIE = 'mcp_session';

export interface VerifiedSession {
  userId: string;
  role: string | null;
}

export interface SessionVerifierOptions {
  cpUpstreamUrl: string;
  /** The org this tenant serves (MOLECULE_ORG_ID): membership of exactly this org is what a session must prove. */
  orgId: string;
  log: Logger;
  timeoutMs?: number;
  positiveTtlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Tier 1 of the tenant chain: a control-plane session cookie, confirmed by the CP's
 * `GET /cp/auth/tenant-member?org_id=` (reference §3.1, asked by org id rather than by slug).
 *
 * - **By org id, not by slug.** Slugs are released when an org is deleted; a new org under the old slug is another
 *   org. The tenant asks about its MOLECULE_ORG_ID and accepts only an answer that names that same id.
 * - **Offline format check.** The session is a checksummed `mols_…` credential; a malformed value is refused here,
 *   so made-up cookies cost no CP call.
 * - **Cache keyed on the session.** sha256(org id ‖ 0 ‖ session value): other cookies in the header neither make new
 *   entries nor travel to the CP (only `mcp_session=<value>` is forwarded). 30 s positive, 5 s negative; a
 *   transport error or timeout is never cached, so a CP blip cannot pin a "no" for anyone.
 * - **Single flight.** Concurrent lookups of one session share one CP call.
 */
export class SessionVerifier {
  private readonly cache = new Map<string, { session: VerifiedSession | null; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<VerifiedSession | null>>();
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly positiveTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: SessionVerifierOptions) {
    this.url = `${opts.cpUpstreamUrl.replace(/\/+$/, '')}/cp/auth/tenant-member?org_id=${encodeURIComponent(opts.orgId)}`;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.positiveTtlMs = opts.positiveTtlMs ?? 30_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 5_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The member behind the Cookie header's `mcp_session`, or null (no session, malformed, not a member, CP down). */
  async verify(cookieHeader: string | undefined): Promise<VerifiedSession | null> {
    const session = sessionFrom(cookieHeader);
    if (session === null) return null;
    const key = createHash('sha256').update(this.opts.orgId).update('\0').update(session).digest('hex');
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.session;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const lookup = this.ask(session, key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, lookup);
    return lookup;
  }

  private async ask(session: string, key: string): Promise<VerifiedSession | null> {
    let verified: VerifiedSession | null = null;
    try {
      const res = await fetch(this.url, {
        headers: { cookie: `${SESSION_COOKIE}=${session}`, 'user-agent': 'molecule-tenant/session-verifier', accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      });
      if (res.status === 200) {
        const body = (await res.json().catch(() => null)) as { member?: unknown; user_id?: unknown; role?: unknown; org_id?: unknown } | null;
        if (
          body &&
          body.member === true &&
          typeof body.user_id === 'string' &&
          body.user_id.length > 0 &&
          // A yes about any other org — or one that names no org — is a no: membership is of this org or nothing.
          typeof body.org_id === 'string' &&
          body.org_id.toLowerCase() === this.opts.orgId
        ) {
          verified = { userId: body.user_id, role: typeof body.role === 'string' ? body.role : null };
        }
      } else {
        await res.body?.cancel();
      }
    } catch (err) {
      this.opts.log.warn({ err: { message: (err as Error).message } }, 'session verification failed (not cached)');
      return null;
    }
    const now = this.now();
    if (this.cache.size >= this.maxEntries) this.evictSome(now);
    this.cache.set(key, { session: verified, expiresAt: now + (verified ? this.positiveTtlMs : this.negativeTtlMs) });
    return verified;
  }

  private evictSome(now: number) {
    for (const [k, v] of this.cache) if (v.expiresAt <= now) this.cache.delete(k);
    let n = 0;
    for (const k of this.cache.keys()) {
      if (this.cache.size < this.maxEntries || n++ > 128) break;
      this.cache.delete(k);
    }
  }
}

/**
 * The well-formed session in a Cookie header, or null. The first `mcp_session` is the one the CP reads too
 * (`readCookie`); anything but a checksummed `mols_…` value is refused offline.
 */
export function sessionFrom(cookieHeader: string | undefined): string | null {
  const value = readCookie(cookieHeader, SESSION_COOKIE);
  return value !== null && isWellFormed('session', value) ? value : null;
}
