import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Principal } from '../../core/auth/principal.js';
import { BatchedLookup } from '../../core/batched-lookup.js';
import { hashCredential, isWellFormed } from '../../core/credentials/format.js';
import { UsageTracker } from '../../core/credentials/usage.js';
import { isDatastoreOutage } from '../../core/db/index.js';
import { DatastoreUnavailableError, DomainError } from '../../core/errors.js';
import { enforceRateLimit } from '../../core/http/rate-limit.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import type { ControlPlaneSchema } from '../db/schema.js';
import { grants, scopesOf, type PartnerScope } from './scopes.js';
import { findLiveKeysByHashes, touchPartnerKeys, type PartnerKeyRow } from './store.js';

/** A partner key's principal: its row's id, partner, scopes and org binding. */
export interface PartnerPrincipal extends Principal {
  class: 'partner-key';
  credentialId: string;
  partnerId: string;
  scopes: readonly string[];
  /** The key's expiry, for the "never mint wider than yourself" rule. */
  expiresAt: Date | null;
  rateLimit: number;
}

export function isPartnerPrincipal(p: Principal | null | undefined): p is PartnerPrincipal {
  return p?.class === 'partner-key';
}

const RATE_WINDOW_MS = 60_000;

/**
 * Verifies `Authorization: Bearer mol_pk_live_…` (reference §3.6, DESIGN.md §4), in this order:
 *
 * 1. the checksum, offline: a mistyped or made-up key never reaches the database (401 `invalid API key`);
 * 2. one indexed equality on sha256(key) over live rows, then a constant-time compare of the stored hash. Unknown and
 *    revoked keys are the same 401 (nothing to enumerate); a datastore outage is 503, never 401. No positive cache:
 *    a revoke is seen by the next request on every replica. Concurrent requests share lookups (BatchedLookup: those
 *    arriving while one query runs go together in the next), which keeps that guarantee;
 * 3. expiry → 401 `API key expired`;
 * 4. the key's own rate limit (`rate_limit` per minute, its own counter in the shared limiter — Redis when
 *    REDIS_URL is set, so every replica counts against one budget): past it, 429 with Retry-After and X-RateLimit-*;
 * 5. the route's scope (any of its `partnerScope`), or the key's own id on a `partnerSelf` route → else 403 naming it.
 *
 * `last_used_at` is written behind, in batches (UsageTracker), so a request never waits on it.
 */
export class PartnerKeyAuthenticator {
  readonly usage: UsageTracker;
  private readonly lookups: BatchedLookup<PartnerKeyRow>;

  constructor(
    private readonly db: Kysely<ControlPlaneSchema>,
    private readonly limiter: RateLimiter,
    log: Logger,
  ) {
    this.usage = new UsageTracker((uses) => touchPartnerKeys(db, uses), log);
    this.lookups = new BatchedLookup((hashes) => findLiveKeysByHashes(this.db, hashes));
  }

  async close(): Promise<void> {
    await this.usage.close();
  }

  /** Steps 1–3: the live, unexpired key behind a presented bearer. */
  async verify(bearer: string): Promise<PartnerKeyRow> {
    if (!isWellFormed('partnerKey', bearer)) throw new DomainError('INVALID_API_KEY');
    const hash = hashCredential(bearer);
    let row: PartnerKeyRow | undefined;
    try {
      row = await this.lookups.lookup(hash);
    } catch (err) {
      if (isDatastoreOutage(err)) throw new DatastoreUnavailableError(err);
      throw err;
    }
    if (!row || !timingSafeEqual(Buffer.from(row.key_hash, 'hex'), Buffer.from(hash, 'hex'))) throw new DomainError('INVALID_API_KEY');
    if (row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now()) throw new DomainError('API_KEY_EXPIRED');
    return row;
  }

  /** The whole chain for one request on a route that takes partner keys; sets nothing on the request. */
  async authenticate(request: FastifyRequest, reply: FastifyReply, bearer: string): Promise<PartnerPrincipal> {
    const row = await this.verify(bearer);
    const principal = partnerPrincipalOf(row);
    // The principal is known from here: a throttled or scope-refused call is audited as this key's.
    request.principal = principal;
    this.usage.markUsed(row.id);
    await enforceRateLimit(reply, this.limiter, `partner-key:${row.id}`, row.rate_limit, RATE_WINDOW_MS);
    const config = request.routeOptions.config;
    const need = scopesOf((config.partnerScope ?? []) as readonly PartnerScope[]);
    const self = config.partnerSelf === true && (request.params as Record<string, unknown> | undefined)?.['id'] === row.id;
    if (!self && !need.some((s) => grants(row.scopes, s))) {
      const names = need.join(' or ');
      throw new DomainError('SCOPE_MISSING', `this API key lacks the scope ${names}`, { required_scope: need[0], ...(need.length > 1 ? { accepted_scopes: need } : {}) });
    }
    return principal;
  }
}

export function partnerPrincipalOf(row: PartnerKeyRow): PartnerPrincipal {
  return {
    class: 'partner-key',
    credentialId: row.id,
    displayPrefix: row.key_prefix,
    actor: `partner-key:${row.key_prefix}`,
    role: 'admin',
    workspaceIds: null,
    orgId: row.org_id,
    partnerId: row.partner_id,
    scopes: row.scopes,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
    rateLimit: row.rate_limit,
  };
}
