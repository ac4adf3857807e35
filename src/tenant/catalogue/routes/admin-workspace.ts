import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceTokenMintResponse } from '../../workspace-tokens/routes/mint.js';
import { mintWorkspaceToken } from '../../workspace-tokens/service.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { revokeAllWorkspaceTokens } from '../service.js';

/** The admin chain, bound to `:id` (reference "Admin" on a workspace path): never a workspace token. */
const security: Array<Record<string, string[]>> = [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }];
const ADMIN_ERRORS = [...AUTH_ERRORS, 'INVALID_ADMIN_AUTH', 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND'] as const;

/** POST /admin/workspaces/:id/tokens (reference §1, EO): the admin mint, answered like POST /workspaces/:id/tokens. */
export function adminMintWorkspaceTokenRoute(app: App, ctx: TenantContext) {
  app.post(
    '/admin/workspaces/:id/tokens',
    {
      config: { minRole: 'admin', validationError: 'invalid workspace id' },
      schema: {
        operationId: 'adminMintWorkspaceToken',
        tags: ['workspace-tokens'],
        summary: 'Mint a workspace token as an admin (shown once)',
        description: 'The same token and answer as POST /workspaces/{id}/tokens, for the admin chain only. At most 50 live tokens per workspace.',
        security,
        params: WorkspaceIdParams,
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 201: WorkspaceTokenMintResponse, ...errorResponses(...ADMIN_ERRORS, 'TOKEN_LIMIT') },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const { row, plaintext } = await mintWorkspaceToken(ctx.db, request.principal!, id, auditEventForReply(reply, 201));
      request.auditWritten = true;
      return reply.code(201).send({
        id: row.id,
        prefix: row.prefix,
        auth_token: plaintext,
        workspace_id: id,
        message: 'Save this token now — it cannot be retrieved again.' as const,
      });
    },
  );
}

/** POST /admin/workspaces/:id/revoke-auth-tokens (reference §1, EO): every live token of the workspace, at once. */
export function revokeAuthTokensRoute(app: App, ctx: TenantContext) {
  app.post(
    '/admin/workspaces/:id/revoke-auth-tokens',
    {
      config: { minRole: 'admin', validationError: 'invalid workspace id' },
      schema: {
        operationId: 'revokeWorkspaceAuthTokens',
        tags: ['workspace-tokens'],
        summary: 'Revoke every live token of a workspace',
        description:
          'API and instance tokens alike; their open event streams and WebSockets end now. A running runtime loses its credential: restart the workspace to give it a fresh one.',
        security,
        params: WorkspaceIdParams,
        response: {
          200: Type.Object({ status: Type.Literal('revoked'), workspace_id: Type.String(), revoked_count: Type.Integer() }),
          ...errorResponses(...ADMIN_ERRORS),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const ids = await revokeAllWorkspaceTokens(ctx.db, id, auditEventForReply(reply, 200));
      request.auditWritten = true;
      for (const tokenId of ids) ctx.streams.credentialRevoked(tokenId);
      return { status: 'revoked' as const, workspace_id: id, revoked_count: ids.length };
    },
  );
}

/** POST /admin/workspaces/:id/restart (reference §3.4, EO): dispatched through the coalesced restart → 202. */
export function adminRestartRoute(app: App, ctx: TenantContext) {
  app.post(
    '/admin/workspaces/:id/restart',
    {
      config: { minRole: 'admin', validationError: 'invalid workspace id' },
      schema: {
        operationId: 'adminRestartWorkspace',
        tags: ['workspaces'],
        summary: 'Dispatch a restart of the workspace (answered at once)',
        description:
          'Goes through the coalesced restart that secret writes use (several quick requests → at most two restarts). A workspace that is not meant to be running (paused, hibernated, failed, external) is left as it is; POST /workspaces/{id}/restart wakes those.',
        security,
        params: WorkspaceIdParams,
        response: {
          202: Type.Object({ status: Type.Literal('restart_dispatched'), workspace_id: Type.String() }),
          ...errorResponses(...ADMIN_ERRORS, 'PROVISIONER_UNAVAILABLE'),
        },
      },
    },
    async (request, reply) => reply.code(202).send(await ctx.lifecycle.dispatchRestart(request.params.id.toLowerCase())),
  );
}
