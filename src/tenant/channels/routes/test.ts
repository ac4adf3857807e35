import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { ChannelParams, ChannelTestResult } from '../schemas.js';
import { requireChannel } from '../service.js';

export default function testChannelRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/channels/:channelId/test',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'testChannel',
        tags: ['channels'],
        summary: 'Send a test message through a channel now and answer the result',
        description:
          'Synchronous: one attempt (no retry), bounded by CHANNEL_DELIVERY_TIMEOUT_MS, logged in the channel’s deliveries as `CHANNEL_TEST`. 200 either way; `ok` says whether the target answered 2xx, `error` why not. Sent even when the channel is disabled.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: ChannelParams,
        response: {
          200: ChannelTestResult,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const workspaceId = request.params.id.toLowerCase();
      const channel = await requireChannel(ctx.db, workspaceId, request.params.channelId.toLowerCase());
      const ws = await ctx.db.selectFrom('workspaces').select('name').where('id', '=', workspaceId).executeTakeFirst();
      const result = await ctx.channels.sendTest(channel, ws?.name ?? '', auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { ok: result.error === null, status_code: result.statusCode, error: result.error, duration_ms: result.durationMs };
    },
  );
}
