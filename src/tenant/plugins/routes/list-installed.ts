import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { getWorkspace } from '../../workspaces/store.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { InstalledPlugin } from '../schemas.js';
import { listInstalled } from '../store.js';

export default function listWorkspacePluginsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/plugins',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'listWorkspacePlugins',
        tags: ['plugins'],
        summary: 'List the plugins installed in a workspace',
        description: 'By name; each with the version installed, the source it was asked for by, who installed it and when.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        response: { 200: Type.Array(InstalledPlugin), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH') },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      if (!(await getWorkspace(ctx.db, id))) throw new DomainError('WORKSPACE_NOT_FOUND');
      return (await listInstalled(ctx.db, id)).map((r) => ({
        name: r.name,
        version: r.version,
        source: r.source,
        installed_by: r.installed_by,
        installed_at: new Date(r.installed_at).toISOString(),
      }));
    },
  );
}
