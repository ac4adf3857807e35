import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { ChannelParams, ChannelUpdateRequest, ChannelView } from '../schemas.js';
import { updateChannel } from '../service.js';

export default function updateChannelRoute(app: App, ctx: TenantContext) {
  app.patch(
    '/workspaces/:id/channels/:channelId',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'updateChannel',
        tags: ['channels'],
        summary: 'Change a channel (config, allowed users, enabled, events)',
        description: 'Fields left out are unchanged. `config` replaces the whole config and is checked like on create; a webhook keeps its signing secret unless a new `secret` is given.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: ChannelParams,
        body: ChannelUpdateRequest,
        response: {
          200: ChannelView,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_JSON', 'WORKSPACE_NOT_FOUND', 'NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const view = await updateChannel(
        { db: ctx.db, cipher: ctx.cipher, policy: ctx.channels.policy },
        request.params.id.toLowerCase(),
        request.params.channelId.toLowerCase(),
        request.body,
        auditEventForReply(reply, 200),
      );
      request.auditWritten = true;
      return view;
    },
  );
}
