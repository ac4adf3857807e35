import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { ChannelParams, DeliveriesQuery, DeliveryView } from '../schemas.js';
import { channelDeliveries } from '../service.js';

export const DeliveryListResponse = Type.Array(DeliveryView);

export default function listChannelDeliveriesRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/channels/:channelId/deliveries',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listChannelDeliveries',
        tags: ['channels'],
        summary: "A channel's delivery log, newest first",
        description:
          'Each delivery: the event, its status (pending, delivered, failed), attempts so far, the last status code and error, when the next attempt is due, and every attempt (status code, error, duration).',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: ChannelParams,
        querystring: DeliveriesQuery,
        response: {
          200: DeliveryListResponse,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request) => channelDeliveries(ctx.db, request.params.id.toLowerCase(), request.params.channelId.toLowerCase(), request.query.limit ?? 50),
  );
}
