import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../core/http/app.js';
import { isTenantConsolePath } from '../core/http/console.js';

/** Paths that pass TenantGuard with no routing header (DESIGN.md §4): probes and the runtime's self-auth routes. */
export const TENANT_GUARD_ALLOWLIST: ReadonlySet<string> = new Set(['/health', '/buildinfo', '/metrics', '/registry/register', '/registry/heartbeat']);

/**
 * TenantGuard: when this tenant serves a configured org, every request but the allowlist must say which org it
 * is for. Missing → 400 TENANT_ORG_HEADER_REQUIRED; wrong → 404 with an empty body, so a cross-tenant probe learns
 * nothing about what exists here (reference §2.1). The allowlist is exact-match: `/health/debug` is not `/health`.
 */
export function tenantGuard(orgId: string | undefined, orgSlug: string | undefined) {
  return async function guard(request: FastifyRequest, reply: FastifyReply) {
    if (orgId === undefined) return;
    const path = request.url.split('?')[0] ?? '';
    if (TENANT_GUARD_ALLOWLIST.has(path)) return;
    // The web console's pages and assets are browser navigations (no header can be set on them); they hold no org
    // data — the page's own API calls carry the header.
    if ((request.method === 'GET' || request.method === 'HEAD') && isTenantConsolePath(path)) return;
    const idHeader = request.headers['x-molecule-org-id'];
    const slugHeader = request.headers['x-molecule-org-slug'];
    if (typeof idHeader === 'string') {
      if (idHeader.toLowerCase() === orgId) return;
      return reply.code(404).send();
    }
    if (typeof slugHeader === 'string') {
      if (orgSlug !== undefined && slugHeader === orgSlug) return;
      return reply.code(404).send();
    }
    return sendError(reply, 'TENANT_ORG_HEADER_REQUIRED', undefined, {
      required_header: 'X-Molecule-Org-Id',
      detail: 'Tenant API requests must include X-Molecule-Org-Id matching the organization UUID (or X-Molecule-Org-Slug matching its slug).',
    });
  };
}
