import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../core/errors.js';
import '../../core/http/types.js';
import type { ControlPlaneAuthenticator } from './authenticator.js';

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

export function sessionAuthHook(auth: ControlPlaneAuthenticator, publicUrl: string, tenantDomain: string | undefined) {
  return async function sessionAuth(request: FastifyRequest, _reply: FastifyReply) {
    const principal = await auth.authenticateSession(request);
    if (UNSAFE.has(request.method) && !originAllowed(request.headers.origin, publicUrl, tenantDomain)) {
      throw new DomainError('ORIGIN_FORBIDDEN', `cross-site request refused: origin ${request.headers.origin} is not allowed`);
    }
    request.principal = principal;
  };
}

export function adminAuthHook(auth: ControlPlaneAuthenticator) {
  return async function adminAuth(request: FastifyRequest, _reply: FastifyReply) {
    request.principal = auth.authenticateAdmin(request);
  };
}
