import type { Kysely } from 'kysely';
import type { ControlPlaneSchema } from '../db/schema.js';
import { SLUG_PATTERN } from '../orgs/schemas.js';

/** Where an org's tenant is, as far as the edge is concerned. */
export type TenantLocation =
  | { state: 'unknown' }
  | { state: 'not_ready'; retryAfterSeconds: number }
  | { state: 'ready'; url: string };

/** slug → tenant location. The edge depends on this only; the provisioner decides what the rows say. */
export interface TenantResolver {
  resolve(slug: string): Promise<TenantLocation>;
  /** The tenant at the location last resolved for `slug` did not answer: forget it (optional). */
  forget?(slug: string): void;
}

const SLUG = new RegExp(SLUG_PATTERN);
/** Retry-After for a tenant that is not ready and gives no estimate, and the bounds of any estimate. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 60;

/**
 * Reads `organizations` + `org_instances` on every call (the edge wraps it in a CachingTenantResolver): ready = the instance is `running` with a URL; an org that
 * exists otherwise (provisioning, failed, awaiting payment, no instance row yet) is not ready. There is no cache:
 * it is one primary-key-indexed join, so a status change (a tenant stopped, moved or deprovisioned) takes effect on
 * the very next request.
 */
export class DatabaseTenantResolver implements TenantResolver {
  constructor(private readonly db: Kysely<ControlPlaneSchema>) {}

  async resolve(slug: string): Promise<TenantLocation> {
    // A value that cannot be a slug is never looked up (a header is client input).
    if (!SLUG.test(slug)) return { state: 'unknown' };
    const row = await this.db
      .selectFrom('organizations as o')
      .leftJoin('org_instances as i', 'i.org_id', 'o.id')
      .select(['i.status as instance_status', 'i.url as url', 'i.eta_seconds as eta_seconds'])
      .where('o.slug', '=', slug)
      .executeTakeFirst();
    if (!row) return { state: 'unknown' };
    if (row.instance_status === 'running' && row.url) return { state: 'ready', url: row.url };
    const eta = Number(row.eta_seconds ?? 0);
    const retryAfterSeconds = eta > 0 ? Math.min(Math.max(Math.ceil(eta), 1), MAX_RETRY_AFTER_SECONDS) : DEFAULT_RETRY_AFTER_SECONDS;
    return { state: 'not_ready', retryAfterSeconds };
  }
}

/**
 * A short-lived memory of READY answers only (EDGE_ROUTE_CACHE_MS): a busy tenant's requests do not each cost a
 * database round trip. Not-ready and unknown answers are never kept, so a tenant that becomes ready, or an org that is
 * created, is served on the next request; a kept answer is forgotten as soon as the tenant does not answer (the edge
 * calls `forget`), and lives at most `ttlMs` otherwise — a deleted org's tenant is stopped before its rows go, so a
 * stale answer can only reach a dead port (502), and a port reused by another org's tenant refuses the request in its
 * TenantGuard (the org header names the first org).
 */
export class CachingTenantResolver implements TenantResolver {
  private readonly ready = new Map<string, { location: TenantLocation; until: number }>();

  constructor(
    private readonly inner: TenantResolver,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async resolve(slug: string): Promise<TenantLocation> {
    const hit = this.ready.get(slug);
    if (hit && hit.until > Date.now()) return hit.location;
    if (hit) this.ready.delete(slug);
    const location = await this.inner.resolve(slug);
    if (location.state === 'ready' && this.ttlMs > 0) {
      if (this.ready.size >= this.maxEntries) this.ready.clear();
      this.ready.set(slug, { location, until: Date.now() + this.ttlMs });
    }
    return location;
  }

  forget(slug: string): void {
    this.ready.delete(slug);
    this.inner.forget?.(slug);
  }
}
