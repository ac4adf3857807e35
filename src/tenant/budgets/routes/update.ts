import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import type { BudgetLimits } from '../../db/schema.js';
import { BudgetView, BudgetWorkspaceParams } from '../schemas.js';
import { parseBudgetUpdate, updateBudget } from '../service.js';

/**
 * The two fields are typed loosely on purpose: their checks live in `parseBudgetUpdate`, which answers with the
 * reference's exact messages (`unknown budget period: …`, `budget limit for … must be >= 0 (USD cents)`, …) that a
 * schema error could not reproduce. The schema still refuses a body that is not an object, and unknown fields.
 */
export const BudgetUpdateRequest = Type.Object(
  {
    budget_limits: Type.Optional(
      Type.Unsafe<BudgetLimits | null>({
        description:
          'Map of period (hourly, daily, weekly, monthly) → limit in USD cents (integer ≥ 0) or null. Replaces the whole map: periods left out are cleared; null clears all. Wins over `budget_limit`.',
        examples: [{ daily: 500, monthly: 10000 }],
      }),
    ),
    budget_limit: Type.Optional(
      Type.Unsafe<number | null>({
        description: 'Legacy single limit: sets the monthly period (integer USD cents ≥ 0, or null) and clears the others.',
        examples: [10000],
      }),
    ),
  },
  { additionalProperties: false, 'x-error': { type: 'invalid request body' } },
);
export type BudgetUpdateRequest = Static<typeof BudgetUpdateRequest>;

export default function updateBudgetRoute(app: App, ctx: TenantContext) {
  app.patch(
    '/workspaces/:id/budget',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'updateBudget',
        tags: ['budgets'],
        summary: 'Replace the budget limits of a workspace',
        description:
          'Admin chain only (a workspace token is refused while ADMIN_TOKEN is set). The body is checked before the workspace is looked up. Answers the same view as GET.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: BudgetWorkspaceParams,
        body: BudgetUpdateRequest,
        response: {
          200: BudgetView,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_JSON', 'WORKSPACE_NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const limits = parseBudgetUpdate(request.body);
      const view = await updateBudget(ctx.db, id, limits, auditEventForReply(reply, 200));
      request.auditWritten = true;
      // After commit: a lost notification must not turn a committed change into an error.
      await ctx.events.recordAfterCommit('BUDGET_UPDATED', id, { budget_limits: limits });
      return view;
    },
  );
}
