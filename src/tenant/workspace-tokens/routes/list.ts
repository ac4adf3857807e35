import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { getWorkspace } from '../../workspaces/store.js';
import { WorkspaceToken } from '../schemas.js';
import { listLiveWorkspaceTokens } from '../store.js';
import { MAX_OFFSET } from '../../../core/http/input.js';

export default function listWorkspaceTokensRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/tokens',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace id' },
      schema: {
        operationId: 'listWorkspaceTokens',
        tags: ['workspace-tokens'],
        summary: "List a workspace's live tokens",
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
        }),
        response: {
          200: Type.Object({ tokens: Type.Array(WorkspaceToken), count: Type.Integer() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH'),
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      if (!(await getWorkspace(ctx.db, id))) throw new DomainError('WORKSPACE_NOT_FOUND');
      const rows = await listLiveWorkspaceTokens(ctx.db, id, request.query.limit ?? 50, request.query.offset ?? 0);
      const tokens = rows.map((r) => ({
        id: r.id,
        prefix: r.prefix,
        kind: r.kind,
        created_by: r.created_by,
        created_at: new Date(r.created_at).toISOString(),
        last_used_at: r.last_used_at ? new Date(r.last_used_at).toISOString() : null,
      }));
      return { tokens, count: tokens.length };
    },
  );
}
