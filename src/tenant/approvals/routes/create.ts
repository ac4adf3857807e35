import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import { approvalPolicyOf } from '../../config.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { ApprovalCreated, ApprovalCreateRequest } from '../schemas.js';
import { createApproval } from '../service.js';

/** An agent asks a human (reference §3.15): 201, APPROVAL_REQUESTED on the workspace, APPROVAL_ESCALATED on its parent. */
export default function createApprovalRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/approvals',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'createApproval',
        tags: ['approvals'],
        summary: 'Ask a human to approve an action',
        description: 'The workspace’s own token or the admin chain. The approval expires after APPROVAL_TTL_SECONDS if nobody decides it.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: ApprovalCreateRequest,
        response: { 201: ApprovalCreated, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_AUTH_REQUIRED') },
      },
    },
    async (request, reply) => {
      const context = request.body.context ?? {};
      const row = await createApproval(
        { db: ctx.db, events: ctx.events, ttlSeconds: approvalPolicyOf(ctx.config).ttlSeconds },
        request.principal!,
        {
          workspaceId: request.params.id.toLowerCase(),
          action: request.body.action,
          reason: request.body.reason ?? '',
          taskId: request.body.task_id,
          context,
          requestHash: null,
        },
        auditEventForReply(reply, 201),
      );
      request.auditWritten = true;
      reply.code(201);
      return { approval_id: row.id, status: 'pending' as const };
    },
  );
}
