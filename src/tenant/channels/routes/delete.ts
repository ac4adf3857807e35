import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { ChannelParams } from '../schemas.js';
import { removeChannel } from '../service.js';

export default function deleteChannelRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/workspaces/:id/channels/:channelId',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'deleteChannel',
        tags: ['channels'],
        summary: 'Remove a channel and its delivery log',
        description: 'Pending deliveries of the channel are dropped with it.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: ChannelParams,
        response: {
          200: Type.Object({ status: Type.Literal('deleted') }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      await removeChannel(ctx.db, request.params.id.toLowerCase(), request.params.channelId.toLowerCase(), auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { status: 'deleted' as const };
    },
  );
}
