import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { BillingModeWorkspaceParams, LlmBillingModeView } from '../schemas.js';
import { getBillingMode } from '../service.js';

export default function getLlmBillingModeRoute(app: App, ctx: TenantContext) {
  app.get(
    '/admin/workspaces/:id/llm-billing-mode',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'getLlmBillingMode',
        tags: ['budgets'],
        summary: 'The LLM billing mode a workspace resolves to, and why',
        description:
          'The workspace override when set, else the org default (LLM_BILLING_MODE_DEFAULT). Parity break, on purpose: the reference answers 200 for an unknown workspace; here it is 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: BillingModeWorkspaceParams,
        response: { 200: LlmBillingModeView, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => getBillingMode(ctx.db, request.params.id.toLowerCase(), ctx.config.LLM_BILLING_MODE_DEFAULT),
  );
}
