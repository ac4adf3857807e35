import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { WorkspaceEnvRequest, WorkspaceEnvResponse, WorkspaceIdParam } from '../schemas.js';
import { applyWorkspaceEnv, checkEnvKeys } from '../service.js';
import { tenantClientFor } from '../tenant-client.js';

export default function setWorkspaceEnvRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/workspaces/:id/env',
    {
      schema: {
        operationId: 'adminSetWorkspaceEnv',
        tags: ['admin'],
        summary: "Force-set a workspace's environment (through its tenant) and restart it",
        description:
          'Each variable becomes a workspace secret at the tenant (its process environment); `merge: false` removes the workspace’s other secrets; then the tenant restarts the workspace. ' +
          '`org_slug` is required: the control plane keeps no index of tenants’ workspaces. Names containing TOKEN, SECRET, KEY or PASSWORD (any case) → 400 naming them unless `force: true`; ' +
          'platform-owned names (ADMIN_TOKEN, MOLECULE_*, NODE_*, PATH, …) → 400 always. All of this is checked before the tenant is called. ' +
          '404 unknown org or workspace; 503 TENANT_NOT_READY while the org has no running tenant; 502 when the tenant fails.',
        security: [{ cpAdmin: [] }],
        params: WorkspaceIdParam,
        body: WorkspaceEnvRequest,
        response: {
          200: WorkspaceEnvResponse,
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'WORKSPACE_NOT_FOUND', 'TENANT_REQUEST_FAILED', 'TENANT_NOT_READY'),
        },
      },
    },
    async (request) => {
      const keys = checkEnvKeys(request.body);
      const client = await tenantClientFor(ctx, request.body.org_slug);
      return applyWorkspaceEnv(client, request.params.id.toLowerCase(), request.body, keys);
    },
  );
}
