import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { ChannelView } from '../schemas.js';
import { listWorkspaceChannels } from '../service.js';

export const ChannelListResponse = Type.Array(ChannelView);

export default function listChannelsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/channels',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listChannels',
        tags: ['channels'],
        summary: "List a workspace's notification channels (credentials masked)",
        description: 'Admin chain, confined to the bound workspace. Oldest first. `config` is masked: URLs keep their host and first path characters, tokens and secrets never appear.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        response: {
          200: ChannelListResponse,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request) => listWorkspaceChannels(ctx.db, request.params.id.toLowerCase()),
  );
}
