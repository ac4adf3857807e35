import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { EventListQuery, StoredEvent } from './schemas.js';

export default function listWorkspaceEventsRoute(app: App, ctx: TenantContext) {
  app.get(
    // The reference names this parameter :workspaceId; it is :id here because the bound admin tier confines a
    // workspace-bound key to the `:id` it names. The path itself is unchanged.
    '/events/:id',
    {
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'listWorkspaceEvents',
        tags: ['events'],
        summary: 'List one workspace’s recent events, newest first',
        description:
          'As GET /events, for one workspace. A malformed id is 400 `invalid workspace ID` (the reference answers 500 `query failed`, §10). ' +
          'A workspace-bound key may read the workspaces of its binding; another workspace is 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: EventListQuery,
        response: {
          200: Type.Array(StoredEvent),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request) =>
      ctx.events.listBefore(request.query.before ?? null, request.params.id.toLowerCase(), request.query.limit ?? 100),
  );
}
