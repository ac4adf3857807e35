import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../core/errors.js';
import type { TenantContext } from '../context.js';

/**
 * The registry routes sit outside the admin and workspace tiers (TenantGuard lets them through), so the handler
 * authenticates: only a live token of the named workspace is accepted — not an org key, not ADMIN_TOKEN.
 * The principal is set so the call is audited like any other.
 */
export async function authenticateRuntime(ctx: TenantContext, request: FastifyRequest, workspaceId: string): Promise<void> {
  const principal = await ctx.auth.authenticateWorkspace(workspaceId, request.headers.authorization, undefined);
  if (principal.class !== 'workspace-token') throw new DomainError('INVALID_WORKSPACE_AUTH');
  request.principal = principal;
}
