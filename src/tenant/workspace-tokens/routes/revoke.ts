import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceId } from '../../workspaces/schemas.js';
import { WorkspaceTokenId } from '../schemas.js';
import { revokeWorkspaceTokenById } from '../service.js';

export default function revokeWorkspaceTokenRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/workspaces/:id/tokens/:tokenId',
    {
      config: { minRole: 'editor', validationError: 'invalid token id' },
      schema: {
        operationId: 'revokeWorkspaceToken',
        tags: ['workspace-tokens'],
        summary: 'Revoke a workspace token',
        description: "A token of another workspace is not found here (404), never revoked.",
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: Type.Object({ id: WorkspaceId, tokenId: WorkspaceTokenId }),
        response: {
          200: Type.Object({ status: Type.Literal('revoked'), id: Type.String() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'TOKEN_NOT_FOUND', 'INVALID_WORKSPACE_AUTH'),
        },
      },
    },
    async (request, reply) => {
      await revokeWorkspaceTokenById(ctx.db, request.params.id.toLowerCase(), request.params.tokenId, auditEventForReply(reply, 200));
      request.auditWritten = true;
      // Its open event streams end now, not at their next re-verification.
      ctx.streams.credentialRevoked(request.params.tokenId);
      return { status: 'revoked' as const, id: request.params.tokenId };
    },
  );
}
