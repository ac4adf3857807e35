import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentWorkspace } from '../present.js';
import { Workspace, WorkspaceIdParams } from '../schemas.js';
import { getWorkspace } from '../store.js';

export default function getWorkspaceRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'getWorkspace',
        tags: ['workspaces'],
        summary: 'Get one workspace',
        description:
          'Parity break, on purpose: the reference serves this without authentication (canvas polling). Here it needs the admin chain or the workspace’s own token. Removed workspaces answer 404 unless `include_removed=true`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: Type.Object({ include_removed: Type.Optional(Type.Boolean({ default: false })) }),
        response: { 200: Workspace, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH') },
      },
    },
    async (request) => {
      const ws = await getWorkspace(ctx.db, request.params.id.toLowerCase(), request.query.include_removed ?? false);
      if (!ws) throw new DomainError('WORKSPACE_NOT_FOUND');
      return presentWorkspace(ws, ctx.lifecycle.processInfo(ws.id));
    },
  );
}
