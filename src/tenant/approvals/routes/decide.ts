import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import { approvalPolicyOf } from '../../config.js';
import type { TenantContext } from '../../context.js';
import { ApprovalDecided, ApprovalDecideRequest, ApprovalIdParams, WorkspaceApprovalParams } from '../schemas.js';
import { decideApproval } from '../service.js';

const DESCRIPTION =
  'Needs `editor`. Never a workspace token nor an approval-required key (403 `APPROVAL_DECIDER_FORBIDDEN`); never the principal that asked (403 `APPROVAL_SELF_DECISION`: another principal must). The decision is attributed to the deciding credential; a `decided_by` in the body is ignored. Not pending, expired, or not this workspace’s → 404 `approval not found or already decided`.';

/** Decide on the workspace route (reference §3.15). */
export function decideWorkspaceApprovalRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/approvals/:approvalId/decide',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'decideApproval',
        tags: ['approvals'],
        summary: 'Approve or deny an approval',
        description: DESCRIPTION,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceApprovalParams,
        body: ApprovalDecideRequest,
        response: {
          200: ApprovalDecided,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'APPROVAL_ALREADY_DECIDED', 'APPROVAL_SELF_DECISION', 'APPROVAL_DECIDER_FORBIDDEN', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_AUTH_REQUIRED'),
        },
      },
    },
    async (request, reply) => {
      const { decision } = request.body;
      const row = await decideApproval(
        { db: ctx.db, events: ctx.events, ttlSeconds: approvalPolicyOf(ctx.config).ttlSeconds },
        request.principal!,
        request.params.approvalId,
        request.params.id.toLowerCase(),
        decision,
        auditEventForReply(reply, 200),
      );
      request.auditWritten = true;
      return { status: decision, approval_id: row.id };
    },
  );
}

/** Decide any approval the caller can see, including org-wide ones (global secrets, key mints) that have no workspace. */
export function decideApprovalRoute(app: App, ctx: TenantContext) {
  app.post(
    '/approvals/:approvalId/decide',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'decideApprovalById',
        tags: ['approvals'],
        summary: 'Approve or deny an approval (any workspace, or org-wide)',
        description: DESCRIPTION,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: ApprovalIdParams,
        body: ApprovalDecideRequest,
        response: {
          200: ApprovalDecided,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'APPROVAL_ALREADY_DECIDED', 'APPROVAL_SELF_DECISION', 'APPROVAL_DECIDER_FORBIDDEN', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const { decision } = request.body;
      const row = await decideApproval(
        { db: ctx.db, events: ctx.events, ttlSeconds: approvalPolicyOf(ctx.config).ttlSeconds },
        request.principal!,
        request.params.approvalId,
        undefined,
        decision,
        auditEventForReply(reply, 200),
      );
      request.auditWritten = true;
      return { status: decision, approval_id: row.id };
    },
  );
}
