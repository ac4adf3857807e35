import type { App } from '../../../core/http/app.js';
import type { ControlPlaneContext } from '../../context.js';
import { LlmBillingModeRequest, OrgSlugQuery, TenantPassThrough, WorkspaceIdParam } from '../schemas.js';
import { tenantClientFor } from '../tenant-client.js';
import { billingModeCall, BILLING_MODE_ERRORS } from './get-llm-billing-mode.js';

export default function setLlmBillingModeRoute(app: App, ctx: ControlPlaneContext) {
  app.put(
    '/admin/workspaces/:id/llm-billing-mode',
    {
      schema: {
        operationId: 'adminSetLlmBillingMode',
        tags: ['admin'],
        summary: "Set or clear a workspace's LLM billing-mode override (through its tenant)",
        description:
          '`mode` is checked here, before the tenant is called: `{}` or a mode outside platform_managed, byok, disabled → 400; `null` clears the override. ' +
          "Answers the tenant's resolved view. `org_slug` is required. 404 unknown org or workspace; 503 no running tenant; 502 tenant failure.",
        security: [{ cpAdmin: [] }],
        params: WorkspaceIdParam,
        querystring: OrgSlugQuery,
        body: LlmBillingModeRequest,
        response: { 200: TenantPassThrough, ...BILLING_MODE_ERRORS },
      },
    },
    async (request) => billingModeCall(await tenantClientFor(ctx, request.query.org_slug), request.params.id.toLowerCase(), 'PUT', { mode: request.body.mode }),
  );
}
