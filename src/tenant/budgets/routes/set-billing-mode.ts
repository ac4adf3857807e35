import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import type { LlmBillingMode } from '../../db/schema.js';
import { BillingModeWorkspaceParams, LlmBillingModeView } from '../schemas.js';
import { parseBillingModeUpdate, setBillingMode } from '../service.js';

/**
 * `mode` is typed loosely on purpose: `parseBillingModeUpdate` answers with the reference's exact messages for a
 * missing, empty, non-string or unknown mode. The schema still refuses a non-object body and unknown fields.
 */
export const LlmBillingModeUpdateRequest = Type.Object(
  {
    mode: Type.Optional(
      Type.Unsafe<LlmBillingMode | null>({
        description: 'platform_managed, byok or disabled; null clears the override. Required (send null explicitly to clear).',
        examples: ['byok', null],
      }),
    ),
  },
  { additionalProperties: false, 'x-error': { type: 'invalid json' } },
);
export type LlmBillingModeUpdateRequest = Static<typeof LlmBillingModeUpdateRequest>;

export default function setLlmBillingModeRoute(app: App, ctx: TenantContext) {
  app.put(
    '/admin/workspaces/:id/llm-billing-mode',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'setLlmBillingMode',
        tags: ['budgets'],
        summary: 'Set or clear the LLM billing-mode override of a workspace',
        description: 'Answers the resolved view, as GET does. An unknown or removed workspace is 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: BillingModeWorkspaceParams,
        body: LlmBillingModeUpdateRequest,
        response: {
          200: LlmBillingModeView,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_JSON', 'WORKSPACE_NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const mode = parseBillingModeUpdate(request.body);
      const view = await setBillingMode(ctx.db, request.params.id.toLowerCase(), mode, ctx.config.LLM_BILLING_MODE_DEFAULT, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return view;
    },
  );
}
