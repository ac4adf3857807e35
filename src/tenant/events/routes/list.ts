import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { EventListQuery, StoredEvent } from './schemas.js';

export default function listEventsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/events',
    {
      config: { minRole: 'reader', orgWide: true },
      schema: {
        operationId: 'listEvents',
        tags: ['events'],
        summary: 'List recent events, newest first',
        description: 'The latest 100 events of every workspace (reference §7); `limit` up to 1000 and `before` (an event id) page further back.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: EventListQuery,
        response: { 200: Type.Array(StoredEvent), ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED') },
      },
    },
    async (request) =>
      ctx.events.listBefore(request.query.before ?? null, null, request.query.limit ?? 100),
  );
}
