import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { Approval, ApprovalIdParams } from '../schemas.js';
import { getApproval, presentApprovalWithWorkspace } from '../service.js';

/** One approval, whatever its status (beyond the reference). Out of the caller's scope → 404. */
export default function getApprovalRoute(app: App, ctx: TenantContext) {
  app.get(
    '/approvals/:approvalId',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'getApproval',
        tags: ['approvals'],
        summary: 'Get an approval',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: ApprovalIdParams,
        response: { 200: Approval, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'APPROVAL_NOT_FOUND', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => presentApprovalWithWorkspace(await getApproval(ctx.db, request.principal!, request.params.approvalId)),
  );
}
