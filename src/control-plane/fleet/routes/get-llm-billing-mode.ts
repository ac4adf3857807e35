import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { OrgSlugQuery, TenantPassThrough, WorkspaceIdParam } from '../schemas.js';
import { tenantClientFor, type TenantClient } from '../tenant-client.js';

export const BILLING_MODE_ERRORS = errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'WORKSPACE_NOT_FOUND', 'TENANT_REQUEST_FAILED', 'TENANT_NOT_READY');

/** One proxied billing-mode call: the tenant's 200 passes through, its 404 is the workspace's, anything else 502. */
export async function billingModeCall(client: TenantClient, workspaceId: string, method: 'GET' | 'PUT', body?: unknown): Promise<unknown> {
  const path = `/admin/workspaces/${encodeURIComponent(workspaceId)}/llm-billing-mode`;
  const reply = await client.call(method, path, body);
  if (reply.status === 200) return reply.body;
  if (reply.status === 404) throw new DomainError('WORKSPACE_NOT_FOUND', `workspace ${workspaceId} not found in org "${client.org.slug}"`);
  throw client.failure(`${method} ${path}`, reply);
}

export default function getLlmBillingModeRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/workspaces/:id/llm-billing-mode',
    {
      schema: {
        operationId: 'adminGetLlmBillingMode',
        tags: ['admin'],
        summary: "A workspace's LLM billing mode, as its tenant resolves it",
        description:
          "Proxies the tenant's GET /admin/workspaces/{id}/llm-billing-mode (reference §4.9: `{workspace_id, resolved_mode, workspace_override, org_default, source}`). " +
          '`org_slug` is required (the control plane keeps no index of tenants’ workspaces). 404 unknown org or workspace; 503 no running tenant; 502 tenant failure.',
        security: [{ cpAdmin: [] }],
        params: WorkspaceIdParam,
        querystring: OrgSlugQuery,
        response: { 200: TenantPassThrough, ...BILLING_MODE_ERRORS },
      },
    },
    async (request) => billingModeCall(await tenantClientFor(ctx, request.query.org_slug), request.params.id.toLowerCase(), 'GET'),
  );
}
