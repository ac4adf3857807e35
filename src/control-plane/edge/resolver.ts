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
}

const SLUG = new RegExp(SLUG_PATTERN);
/** Retry-After for a tenant that is not ready and gives no estimate, and the bounds of any estimate. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 60;

/**
 * Reads `organizations` + `org_instances` on every call: ready = the instance is `running` with a URL; an org that
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
