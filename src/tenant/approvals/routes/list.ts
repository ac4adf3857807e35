import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { requireLiveWorkspace } from '../../secrets/service.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { PageQuery, WorkspaceApproval } from '../schemas.js';
import { presentApproval } from '../service.js';
import { listWorkspaceApprovals } from '../store.js';

/** The workspace's approvals, newest first (reference §3.15: the latest 50; here a page, `before` for the next). */
export default function listApprovalsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/approvals',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listApprovals',
        tags: ['approvals'],
        summary: 'List a workspace’s approvals',
        description: 'Newest first; `limit` (default 50) and `before` (the last id of the previous page) page through the rest.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: PageQuery,
        response: { 200: Type.Array(WorkspaceApproval), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_AUTH_REQUIRED') },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      await requireLiveWorkspace(ctx.db, id);
      const rows = await listWorkspaceApprovals(ctx.db, id, { limit: request.query.limit ?? 50, before: request.query.before });
      return rows.map(presentApproval);
    },
  );
}
