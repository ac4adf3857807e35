import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentWorkspace } from '../present.js';
import { Workspace } from '../schemas.js';
import { listWorkspaces } from '../store.js';

export default function listWorkspacesRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listWorkspaces',
        tags: ['workspaces'],
        summary: 'List workspaces',
        description: 'Oldest first, as in the reference. Removed workspaces appear only with `include_removed=true`. A workspace-bound key sees only its workspaces.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: Type.Object({ include_removed: Type.Optional(Type.Boolean({ default: false })) }),
        response: { 200: Type.Array(Workspace), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH') },
      },
    },
    async (request) => {
      const rows = await listWorkspaces(ctx.db, { ids: request.principal!.workspaceIds, includeRemoved: request.query.include_removed ?? false });
      return rows.map((r) => presentWorkspace(r, ctx.lifecycle.processInfo(r.id)));
    },
  );
}
