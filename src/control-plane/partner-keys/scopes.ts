/**
 * Partner key scopes (reference §3.6; issue 12). The design doc's set plus the seed's `orgs:list` and
 * `workspaces:create`. `orgs:list` is the seed's name for `orgs:read` (reference: "accept `orgs:list` as an alias"):
 * either grants the other's routes, and a key stores the names it was minted with.
 *
 * | scope              | grants                                                                          |
 * |--------------------|---------------------------------------------------------------------------------|
 * | `orgs:create`      | POST /orgs (the org is the key's partner's), GET /orgs/{id or slug}/status      |
 * | `orgs:read`        | GET /orgs, GET /orgs/{slug}, GET /orgs/{id or slug}/status                      |
 * | `orgs:list`        | alias of `orgs:read`                                                            |
 * | `orgs:delete`      | DELETE /orgs/{slug} (the full delete cascade)                                   |
 * | `orgs:export`      | GET /orgs/{slug}/export                                                         |
 * | `workspaces:create`| POST /orgs/{slug}/workspaces (forwarded to the org's tenant)                    |
 * | `billing:read`     | GET /orgs/{slug}/usage, GET /billing/sessions/{id}                              |
 * | `billing:manage`   | POST /billing/checkout, /billing/portal, /billing/topup, GET /billing/sessions/{id}, POST /billing/sessions/{id}/confirm and /cancel |
 * | `provision:status` | GET /orgs/{slug}/provision-status, GET /orgs/{id or slug}/status                |
 * | `admin:keys`       | POST, GET /admin/partner-keys[/{id}], DELETE of another key (a key may always revoke itself) |
 */
export const PARTNER_SCOPES = [
  'orgs:create',
  'orgs:read',
  'orgs:list',
  'orgs:delete',
  'orgs:export',
  'workspaces:create',
  'billing:read',
  'billing:manage',
  'provision:status',
  'admin:keys',
] as const;
export type PartnerScope = (typeof PARTNER_SCOPES)[number];

const ALIASES: Partial<Record<PartnerScope, PartnerScope>> = { 'orgs:list': 'orgs:read' };

/** The canonical name of a scope (aliases folded). */
export function canonicalScope(scope: string): string {
  return ALIASES[scope as PartnerScope] ?? scope;
}

export function isPartnerScope(value: string): value is PartnerScope {
  return (PARTNER_SCOPES as readonly string[]).includes(value);
}

/** True when `held` (a key's scopes) grants `need`. */
export function grants(held: readonly string[], need: PartnerScope): boolean {
  const want = canonicalScope(need);
  return held.some((s) => canonicalScope(s) === want);
}

/**
 * What a route asks of a partner key (its `partnerScope` route config): any one of the scopes. Routes without it
 * refuse partner keys outright (401 PARTNER_KEY_NOT_ACCEPTED), whatever they hold.
 */
export type PartnerRouteScope = PartnerScope | readonly PartnerScope[];

export function scopesOf(rule: PartnerRouteScope): readonly PartnerScope[] {
  return typeof rule === 'string' ? [rule] : rule;
}
