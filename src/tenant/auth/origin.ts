import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';

/** What counts as the tenant's own origin, besides the host a request was sent to (from config). */
export interface TenantOrigins {
  /** MOLECULE_ORG_SLUG: with `tenantDomain`, names the tenant's public host `<slug>.<domain>`. */
  slug?: string | undefined;
  /** TENANT_DOMAIN. */
  tenantDomain?: string | undefined;
  /** CP_PUBLIC_URL: the account console on the CP host may call its org's tenant (through the edge). */
  cpPublicUrl?: string | undefined;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A Host header as [hostname, explicit port or ''], lower-cased; null when it is not a bare host[:port]. */
function hostParts(host: string): [string, string] | null {
  const m = /^(\[[0-9a-f:.]+\]|[^\s:/@?#[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  return m ? [m[1]!.toLowerCase(), m[2] ?? ''] : null;
}

/** The Origin's port, explicit or the scheme's default. */
function portOf(o: URL): string {
  return o.port || (o.protocol === 'https:' ? '443' : '80');
}

/**
 * The tenant's version of the control plane's Origin rule (src/control-plane/auth/hooks.ts): a browser write made
 * with the session cookie must come from a page of this tenant. "Own" is, with http or https:
 *  - the host the request was sent to (Origin host:port equal to the Host header — what the reference tenant calls
 *    same-origin; the tenant cannot see where TLS ends, so the scheme is not compared);
 *  - `<MOLECULE_ORG_SLUG>.<TENANT_DOMAIN>` on any port, when TENANT_DOMAIN is set (the tenant's public host, when
 *    the edge forwards with another Host) — this org's host only, never a sibling tenant's;
 *  - exactly the origin of CP_PUBLIC_URL, when set (the console on the CP host, through the edge).
 * A request without Origin is not browser-driven (curl, SDKs) and passes, as at the CP; SameSite=Lax on the cookie
 * already keeps it off cross-site POSTs, and this closes the same-site gap (a sibling tenant's page).
 */
export function tenantOriginAllowed(origin: string | undefined, host: string | undefined, own: TenantOrigins): boolean {
  if (origin === undefined) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.protocol !== 'https:' && o.protocol !== 'http:') return false;
  if (host !== undefined) {
    const h = hostParts(host);
    // Without a port in Host, the request came on its scheme's default port: the Origin must name none either.
    if (h && o.hostname === h[0] && (h[1] === '' ? o.port === '' : portOf(o) === h[1])) return true;
  }
  if (own.tenantDomain !== undefined && own.slug !== undefined && o.hostname === `${own.slug}.${own.tenantDomain}`) return true;
  if (own.cpPublicUrl !== undefined && o.origin === new URL(own.cpPublicUrl).origin) return true;
  return false;
}

/** Refuses a cookie-authenticated unsafe request from a foreign page (403 ORIGIN_FORBIDDEN); bearers are not checked. */
export function refuseCrossSiteSession(request: FastifyRequest, principal: Principal, own: TenantOrigins): void {
  if (principal.class !== 'session' || !UNSAFE.has(request.method)) return;
  const origin = request.headers.origin;
  if (tenantOriginAllowed(origin, request.headers.host, own)) return;
  throw new DomainError('ORIGIN_FORBIDDEN', `cross-site request refused: origin ${origin} is not this tenant's`);
}
