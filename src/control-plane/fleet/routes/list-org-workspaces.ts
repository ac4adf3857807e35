import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { TenantPassThrough } from '../schemas.js';
import { tenantClientFor } from '../tenant-client.js';

export default function listOrgWorkspacesRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/orgs/:slug/workspaces',
    {
      schema: {
        operationId: 'adminListOrgWorkspaces',
        tags: ['admin'],
        summary: "An org's workspaces, as its tenant lists them",
        description:
          "Calls the tenant's GET /workspaces as its admin (the control plane holds the token, so operators never need it) and passes the body through. " +
          '404 unknown slug; 503 TENANT_NOT_READY while the org has no running tenant; 502 TENANT_UNREACHABLE / TENANT_REQUEST_FAILED (with `http_status`) when the tenant fails.',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        response: {
          200: TenantPassThrough,
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'TENANT_REQUEST_FAILED', 'TENANT_NOT_READY'),
        },
      },
    },
    async (request) => {
      const client = await tenantClientFor(ctx, request.params.slug);
      return client.expectOk('GET', '/workspaces');
    },
  );
}
