import { Type, type Static } from 'typebox';
import type { Principal } from '../../../core/auth/principal.js';
import { DatastoreUnavailableError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { findOrgTokenNameAndExpiry } from '../../org-tokens/store.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const AuthSelfResponse = Type.Object({
  class: Type.Union([Type.Literal('org-token'), Type.Literal('workspace-token'), Type.Literal('admin-token'), Type.Literal('session'), Type.Literal('bootstrap')]),
  role: Type.Union([Type.Literal('admin'), Type.Literal('editor'), Type.Literal('reader')]),
  workspace_ids: Nullable(Type.Array(Type.String({ format: 'uuid' }), { description: 'The workspaces the credential is confined to; null: every workspace of the org.' })),
  expires_at: Nullable(Type.String({ format: 'date-time' })),
  credential_id: Nullable(Type.String()),
  prefix: Nullable(Type.String({ description: 'The display prefix of a minted credential, never more.' })),
  name: Nullable(Type.String()),
  approval_required: Type.Boolean({ description: 'True when gated actions and deletes of this key wait for a human approval (202 pending_approval).' }),
  org_id: Nullable(Type.String()),
  actor: Type.String({ description: 'How the audit trail names the caller, e.g. `org-token:mola_k7x9p2q4`.' }),
});
export type AuthSelfResponse = Static<typeof AuthSelfResponse>;


/** The answer of GET /auth/self for a principal (also what the tenant's /mcp scopes its tools by). */
export async function describePrincipal(ctx: Pick<TenantContext, 'db'>, principal: Principal): Promise<AuthSelfResponse> {
  let name: string | null = null;
  let expiresAt: string | null = null;
  if (principal.class === 'org-token' && principal.credentialId) {
    // A datastore failure is an outage (503), as everywhere in authentication.
    const row = await findOrgTokenNameAndExpiry(ctx.db, principal.credentialId).catch((err: unknown) => {
      throw new DatastoreUnavailableError(err);
    });
    name = row?.name ?? null;
    expiresAt = row?.expires_at ? new Date(row.expires_at).toISOString() : null;
  }
  const cls = principal.class;
  if (cls !== 'org-token' && cls !== 'workspace-token' && cls !== 'admin-token' && cls !== 'session' && cls !== 'bootstrap') {
    // The tenant's authenticator yields only these; anything else is a bug, not a caller to describe.
    throw new Error(`unexpected principal class ${cls}`);
  }
  return {
    class: cls,
    role: principal.role,
    workspace_ids: principal.workspaceIds === null ? null : [...principal.workspaceIds],
    expires_at: expiresAt,
    credential_id: principal.credentialId,
    prefix: principal.displayPrefix,
    name,
    approval_required: principal.approvalRequired === true,
    org_id: principal.orgId,
    actor: principal.actor,
  };
}

/**
 * GET /auth/self: the caller, described — what a client (the MCP servers, the CLI's `whoami`) needs to offer only what
 * the credential may do. Any credential the tenant accepts, each as itself: a workspace token is described as its own
 * workspace's token (authenticator.authenticateAny). Mounted outside the tiers (it authenticates here) so that one
 * route answers every class; TenantGuard and the audit trail apply as everywhere.
 */
export function authSelfRoute(app: App, ctx: TenantContext) {
  app.get(
    '/auth/self',
    {
      schema: {
        operationId: 'getAuthSelf',
        tags: ['auth'],
        summary: 'The credential making this call: class, role, workspace binding, expiry',
        description:
          'Any credential the tenant accepts (org API key, workspace token, ADMIN_TOKEN, a member session, the bootstrap tier). A workspace token is described as a token of its own workspace (`role: editor`, `workspace_ids: [its id]`). Never returns a secret: `prefix` is the display prefix only.',
        security: [{ orgApiKey: [] }, { workspaceToken: [] }, { adminToken: [] }, { session: [] }],
        response: {
          200: AuthSelfResponse,
          ...errorResponses('TENANT_ORG_HEADER_REQUIRED', 'ADMIN_AUTH_REQUIRED', 'INVALID_ADMIN_AUTH', 'RATE_LIMITED', 'INTERNAL', 'platform_unavailable'),
        },
      },
    },
    async (request): Promise<AuthSelfResponse> => {
      const principal = await ctx.auth.authenticateAny(request.headers.authorization, request.headers.cookie);
      request.principal = principal;
      return describePrincipal(ctx, principal);
    },
  );
}
