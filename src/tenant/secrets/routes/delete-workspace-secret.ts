import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceId } from '../../workspaces/schemas.js';
import { INVALID_KEY, rejectMalformedWorkspaceId, SecretKey, WorkspaceSecretDeleted } from '../schemas.js';
import { removeWorkspaceSecret } from '../service.js';

export default function deleteWorkspaceSecretRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/workspaces/:id/secrets/:key',
    {
      config: { minRole: 'editor', validationError: INVALID_KEY },
      preValidation: rejectMalformedWorkspaceId,
      schema: {
        operationId: 'deleteWorkspaceSecret',
        tags: ['secrets'],
        summary: 'Delete a workspace secret',
        description: 'Then restarts the workspace; an org-wide value for the same key applies from that restart on. Unknown key → 404 `secret not found`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: Type.Object({ id: WorkspaceId, key: SecretKey }),
        response: {
          200: WorkspaceSecretDeleted,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'SECRET_NOT_FOUND', 'INVALID_WORKSPACE_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const { key } = request.params;
      await removeWorkspaceSecret(ctx, request.params.id.toLowerCase(), key, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { status: 'deleted' as const, key };
    },
  );
}
