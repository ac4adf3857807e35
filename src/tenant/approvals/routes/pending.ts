import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { PageQuery, PendingApproval } from '../schemas.js';
import { presentPending } from '../service.js';
import { listPendingApprovals } from '../store.js';

const DESCRIPTION =
  'Pending, unexpired approvals across the tenant, newest first, with the workspace name (null for org-wide actions). A workspace-bound key sees only its workspaces’. `limit` (default 50) and `before` page.';

/** `GET /approvals/pending` (reference §3.15), which every reference client calls. */
export function listPendingApprovalsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/approvals/pending',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listPendingApprovals',
        tags: ['approvals'],
        summary: 'List pending approvals',
        description: DESCRIPTION,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: PageQuery,
        response: { 200: Type.Array(PendingApproval), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => {
      const rows = await listPendingApprovals(ctx.db, { limit: request.query.limit ?? 50, before: request.query.before, workspaceIds: request.principal!.workspaceIds });
      return rows.map(presentPending);
    },
  );
}

/** The reference workspace-mode MCP's pending list: `kind=approval` answers like `/approvals/pending`. */
export function listPendingRequestsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/requests/pending',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listPendingRequests',
        tags: ['approvals'],
        summary: 'List pending requests (approvals)',
        description: `${DESCRIPTION} \`kind\` defaults to \`approval\`, the only kind.`,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: Type.Object(
          {
            kind: Type.Optional(Type.Literal('approval', { 'x-error': "must be 'approval'" })),
            limit: PageQuery.properties.limit,
            before: PageQuery.properties.before,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(PendingApproval), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => {
      const rows = await listPendingApprovals(ctx.db, { limit: request.query.limit ?? 50, before: request.query.before, workspaceIds: request.principal!.workspaceIds });
      return rows.map(presentPending);
    },
  );
}
