import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { BudgetView, BudgetWorkspaceParams } from '../schemas.js';
import { getBudget } from '../service.js';

export default function getBudgetRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/budget',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'getBudget',
        tags: ['budgets'],
        summary: 'Budget limits, rolling-window spend and headroom of a workspace',
        description:
          'Spend per period is the sum of the ledger within a rolling window (hourly 1 h, daily 24 h, weekly 7 d, monthly 30 d). `remaining` may be negative. Removed workspaces answer 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: BudgetWorkspaceParams,
        response: { 200: BudgetView, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH') },
      },
    },
    async (request) => getBudget(ctx.db, request.params.id.toLowerCase()),
  );
}
