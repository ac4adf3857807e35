import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import { approvalPolicyOf } from '../../config.js';
import type { TenantContext } from '../../context.js';
import { ApprovalWithdrawn, WorkspaceApprovalParams } from '../schemas.js';
import { withdrawApproval } from '../service.js';

/** The requester takes a pending approval back (reference §3.15 [EO]). */
export default function withdrawApprovalRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/approvals/:approvalId/withdraw',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'withdrawApproval',
        tags: ['approvals'],
        summary: 'Withdraw a pending approval',
        description: 'The workspace’s own token or the admin chain. Another workspace’s approval → 403 `not the requester`; not pending → 409.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceApprovalParams,
        response: {
          200: ApprovalWithdrawn,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'APPROVAL_NOT_FOUND', 'APPROVAL_NOT_REQUESTER', 'APPROVAL_NOT_PENDING', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_AUTH_REQUIRED'),
        },
      },
    },
    async (request, reply) => {
      const { approvalId } = request.params;
      await withdrawApproval(
        { db: ctx.db, events: ctx.events, ttlSeconds: approvalPolicyOf(ctx.config).ttlSeconds },
        request.principal!,
        approvalId,
        request.params.id.toLowerCase(),
        auditEventForReply(reply, 200),
      );
      request.auditWritten = true;
      return { status: 'withdrawn' as const, approval_id: approvalId };
    },
  );
}
