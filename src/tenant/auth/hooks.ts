import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleAtLeast, type Principal } from '../../core/auth/principal.js';
import { DomainError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import '../../core/http/types.js';
import type { TenantAuthenticator } from './authenticator.js';
import { refuseCrossSiteSession, type TenantOrigins } from './origin.js';

/**
 * What every protected route declares in its `config` (checked at boot by `requirePermissionDeclared`) and what
 * is enforced right after authentication, before the body is even parsed.
 */
function enforceRoutePermission(request: FastifyRequest, reply: FastifyReply, principal: Principal) {
  const config = request.routeOptions.config;
  const need = config.minRole;
  if (need === undefined) throw new Error(`route ${request.routeOptions.url} declares no minRole`);
  if (!roleAtLeast(principal.role, need)) {
    throw new DomainError('ROLE_FORBIDDEN', `this credential's role (${principal.role}) does not permit this action; it needs ${need}`, {
      role: principal.role,
      required_role: need,
    });
  }
  if (config.orgWide && principal.workspaceIds !== null) throw new DomainError('SCOPE_EXCEEDED');
  if (principal.deprecated) {
    // Tier 3 (any workspace token as admin) is on its way out; say so on every response it produces.
    reply.header('deprecation', 'true');
    reply.header('warning', '299 - "workspace tokens as admin credentials are deprecated; set ADMIN_TOKEN and use an org API key"');
  }
}

/** How the CP names the partner key a forwarded call acts for (`partner-key:mol_pk_live_xxxx`: a display prefix only). */
export const ACTING_FOR_HEADER = 'x-molecule-acting-for';
const ACTING_FOR_RE = /^partner-key:mol_pk_live_[0-9A-Za-z]{4}$/;

/**
 * The CP forwards a partner key's call (POST /orgs/:slug/workspaces, `workspaces:create`) with this tenant's ADMIN_TOKEN
 * and names the key in X-Molecule-Acting-For, so this tenant's audit chain attributes the call to the partner key as
 * the CP's does (issue 12). Only the admin token may say so — it already holds every power here, so the header grants
 * nothing; from any other credential it is ignored.
 */
function actingFor(request: FastifyRequest, principal: Principal): Principal {
  const claimed = request.headers[ACTING_FOR_HEADER];
  if (principal.class !== 'admin-token' || typeof claimed !== 'string' || !ACTING_FOR_RE.test(claimed)) return principal;
  return { ...principal, actor: claimed };
}

export function adminAuthHook(auth: TenantAuthenticator, origins: TenantOrigins, opts: { bindToParam?: string } = {}) {
  return async function adminAuth(request: FastifyRequest, reply: FastifyReply) {
    const principal = actingFor(request, await auth.authenticateAdmin(request.headers.authorization, request.headers.cookie));
    request.principal = principal;
    // Attributed (principal set) before it is refused: a cross-site attempt on a member's session is worth an audit line.
    refuseCrossSiteSession(request, principal, origins);
    if (opts.bindToParam && principal.workspaceIds !== null) {
      const id = String((request.params as Record<string, unknown>)[opts.bindToParam] ?? '').toLowerCase();
      if (isUuid(id) && !principal.workspaceIds.includes(id)) throw new DomainError('WORKSPACE_NOT_FOUND');
    }
    enforceRoutePermission(request, reply, principal);
  };
}

export function workspaceAuthHook(auth: TenantAuthenticator, origins: TenantOrigins) {
  return async function workspaceAuth(request: FastifyRequest, reply: FastifyReply) {
    const id = (request.params as { id?: string }).id ?? '';
    const principal = await auth.authenticateWorkspace(id, request.headers.authorization, request.headers.cookie);
    request.principal = principal;
    refuseCrossSiteSession(request, principal, origins);
    enforceRoutePermission(request, reply, principal);
  };
}

/** Boot-time check: a route in a protected scope that forgot its permission fails the build, not a request. */
export function requirePermissionDeclared(route: { url: string; method: string | string[]; config?: { minRole?: unknown } }) {
  if (route.config?.minRole === undefined) {
    throw new Error(`protected route ${String(route.method)} ${route.url} must declare config.minRole`);
  }
}
