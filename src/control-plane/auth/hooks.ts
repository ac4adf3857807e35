import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../core/errors.js';
import '../../core/http/types.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import type { PartnerKeyAuthenticator } from '../partner-keys/auth.js';
import type { TenantAdminTokens } from '../provisioning/admin-tokens.js';
import type { ControlPlaneAuthenticator } from './authenticator.js';

/** Every partner key starts so (`mol_pk_live_…`; `mol_pk_test_…` is reserved, reference §3.6). */
const PARTNER_KEY_PREFIX = 'mol_pk_';

function partnerBearerOf(authorization: string | undefined): string | null {
  const m = authorization ? /^Bearer\s+(\S+)\s*$/.exec(authorization) : null;
  return m && m[1]!.startsWith(PARTNER_KEY_PREFIX) ? m[1]! : null;
}

/**
 * Partner keys ride on the session and admin tiers, route by route (issue 12): a route that names `partnerScope` in its
 * config takes a partner key instead of the tier's own credential; any other route refuses one by its prefix, before
 * any lookup. Answers true when the request was authenticated as a partner key.
 */
async function partnerKeyGate(partner: PartnerKeyAuthenticator | undefined, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const key = partnerBearerOf(request.headers.authorization);
  if (key === null) return false;
  if (!partner || request.routeOptions.config.partnerScope === undefined) throw new DomainError('PARTNER_KEY_NOT_ACCEPTED');
  await partner.authenticate(request, reply, key);
  return true;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Cookie-authenticated writes must come from a page of ours or of a tenant (`*.<TENANT_DOMAIN>`): SameSite=Lax
 * already keeps cross-site POSTs cookieless, and this closes the same-site gap. Requests without an Origin header
 * (curl, SDKs, server-to-server) are not browser-driven and pass.
 */
export function originAllowed(origin: string | undefined, publicUrl: string, tenantDomain: string | undefined): boolean {
  if (!origin) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.origin === new URL(publicUrl).origin) return true;
  return tenantDomain !== undefined && o.protocol === new URL(publicUrl).protocol && o.hostname.endsWith(`.${tenantDomain}`);
}

export function sessionAuthHook(auth: ControlPlaneAuthenticator, publicUrl: string, tenantDomain: string | undefined, partner?: PartnerKeyAuthenticator) {
  return async function sessionAuth(request: FastifyRequest, reply: FastifyReply) {
    // A bearer is no cookie: a partner key's request is not browser-driven, so the Origin check does not apply.
    if (await partnerKeyGate(partner, request, reply)) return;
    const principal = await auth.authenticateSession(request);
    if (UNSAFE.has(request.method) && !originAllowed(request.headers.origin, publicUrl, tenantDomain)) {
      throw new DomainError('ORIGIN_FORBIDDEN', `cross-site request refused: origin ${request.headers.origin} is not allowed`);
    }
    request.principal = principal;
  };
}

const ADMIN_FAILURE_WINDOW_MS = 60_000;

/**
 * The CP admin gate: the bearer, plus a limit on failed attempts per client (reference §3.2, "bearer plus rate
 * limit"). Only failures are counted, in the shared limiter; once a client exceeds `failureLimit` in a minute its
 * wrong bearers get 429 for the rest of the window. The right token is always served: the client address is only
 * as good as TRUST_PROXY makes it, and behind a shared proxy others' failures must never lock the operator out
 * (issue 7 item 8). Guessing stays throttled: the token is at least 16 operator-chosen characters, and every wrong
 * guess past the limit is answered 429 and keeps the client blocked.
 */
export function adminAuthHook(auth: ControlPlaneAuthenticator, limiter: RateLimiter, failureLimit: number, partner?: PartnerKeyAuthenticator) {
  const blockedUntil = new Map<string, number>();
  const refuse = (reply: FastifyReply, until: number) => {
    const retryAfter = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    reply.header('retry-after', String(retryAfter));
    return new DomainError('RATE_LIMITED', 'too many failed admin authentication attempts; retry later', { retry_after: retryAfter });
  };
  return async function adminAuth(request: FastifyRequest, reply: FastifyReply) {
    if (await partnerKeyGate(partner, request, reply)) return;
    try {
      request.principal = auth.authenticateAdmin(request);
      return;
    } catch (err) {
      if (!(err instanceof DomainError && err.code === 'INVALID_ADMIN_AUTH')) throw err;
      const until = blockedUntil.get(request.ip);
      if (until !== undefined && until > Date.now()) throw refuse(reply, until);
      if (until !== undefined) blockedUntil.delete(request.ip);
      const d = await limiter.hit(`cp-admin-fail:${request.ip}`, failureLimit, ADMIN_FAILURE_WINDOW_MS);
      if (!d.allowed) {
        const blocked = Date.now() + d.resetMs;
        if (blockedUntil.size > 10_000) blockedUntil.clear();
        blockedUntil.set(request.ip, blocked);
        throw refuse(reply, blocked);
      }
      throw err;
    }
  };
}

/** The tenant callbacks' tier (/cp/tenants/*): a tenant admin token; the principal carries its org. */
export function tenantAuthHook(auth: ControlPlaneAuthenticator, adminTokens: TenantAdminTokens) {
  return async function tenantAuth(request: FastifyRequest) {
    request.principal = await auth.authenticateTenant(request, adminTokens);
  };
}

/** The provisioning API's tier: provision secret + X-Molecule-Admin-Token; the principal carries the token's org. */
export function provisionAuthHook(auth: ControlPlaneAuthenticator, adminTokens: TenantAdminTokens) {
  return async function provisionAuth(request: FastifyRequest) {
    request.principal = await auth.authenticateProvision(request, adminTokens);
  };
}
