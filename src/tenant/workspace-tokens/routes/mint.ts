import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { mintWorkspaceToken } from '../service.js';

export const WorkspaceTokenMintResponse = Type.Object({
  id: Type.String(),
  prefix: Type.String(),
  // The plaintext appears here only; it is stored as a hash.
  auth_token: Type.String({ description: 'A workspace token (`molw_…`). Shown once.' }),
  workspace_id: Type.String(),
  message: Type.Literal('Save this token now — it cannot be retrieved again.'),
});

export default function mintWorkspaceTokenRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/tokens',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace id' },
      schema: {
        operationId: 'mintWorkspaceToken',
        tags: ['workspace-tokens'],
        summary: 'Mint a workspace token (shown once)',
        description: 'At most 50 live tokens per workspace.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: Type.Object({}, { additionalProperties: false }),
        response: {
          201: WorkspaceTokenMintResponse,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'TOKEN_LIMIT'),
        },
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
