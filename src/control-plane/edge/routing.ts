import { RESERVED_SLUGS } from '../orgs/service.js';

/**
 * Which requests the edge takes (README, "The edge"). Pure, so the rule is unit-tested on its own:
 *
 * 1. **Tenant host**: the Host's name (lowercased, port dropped) is `<label>.<tenantDomain>` with one DNS label that
 *    is not a reserved slug (`app`, `www`, `api`, … name the platform's own hosts) and the name is not the CP's own
 *    (PUBLIC_URL). Every path and method goes to org `<label>`'s tenant — `/api/v1/*`, `/health` included.
 * 2. **CP host** (anything else) with `X-Molecule-Org-Slug`: the request goes to that org's tenant unless its path is
 *    the CP's own: under `/api/v1` or `/cp`, or a path the CP has a route for (`/health`, `/metrics`,
 *    `/openapi.json`, the billing, email-confirmation and device-approval pages).
 * 3. Everything else is the CP's.
 */
export type EdgeTarget = { kind: 'cp' } | { kind: 'tenant'; slug: string; by: 'host' | 'header' };

export interface EdgeRoutingRule {
  /** TENANT_DOMAIN, lowercase (default `localhost`). */
  tenantDomain: string;
  /** The hostname of PUBLIC_URL: never a tenant host, even when it sits under the tenant domain. */
  cpHostname: string;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const CP_PREFIXES = ['/api/v1', '/cp'];

/** `acme.localhost:8080` → `acme.localhost`; `[::1]:8080` → `[::1]`. */
export function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return (colon >= 0 ? h.slice(0, colon) : h).replace(/\.$/, '');
}

/** The org slug a Host names, or null when the Host is not a tenant host. */
export function slugOfHost(host: string | undefined, rule: EdgeRoutingRule): string | null {
  const name = hostnameOf(host);
  if (name === '' || name === rule.cpHostname) return null;
  const suffix = `.${rule.tenantDomain}`;
  if (!name.endsWith(suffix)) return null;
  const label = name.slice(0, -suffix.length);
  if (!DNS_LABEL.test(label) || RESERVED_SLUGS.has(label)) return null;
  return label;
}

export function isCpPath(path: string): boolean {
  return CP_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * @param cpHasRoute whether the CP's router matched this request (Fastify found a route for method and path).
 */
export function edgeTargetOf(
  req: { host: string | undefined; slugHeader: string | string[] | undefined; path: string; cpHasRoute: boolean },
  rule: EdgeRoutingRule,
): EdgeTarget {
  const bySlug = slugOfHost(req.host, rule);
  if (bySlug !== null) return { kind: 'tenant', slug: bySlug, by: 'host' };
  const header = Array.isArray(req.slugHeader) ? req.slugHeader[0] : req.slugHeader;
  if (header === undefined || header === '') return { kind: 'cp' };
  if (req.cpHasRoute || isCpPath(req.path)) return { kind: 'cp' };
  return { kind: 'tenant', slug: header, by: 'header' };
}
