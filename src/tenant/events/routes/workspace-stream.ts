import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { getWorkspace } from '../../workspaces/store.js';
import { resumePoint } from '../sse.js';
import { sendEventStream } from '../stream-registry.js';
import { EVENT_STREAM_DESCRIPTION, EventStreamHeaders } from './schemas.js';
import { Text } from '../../../core/http/input.js';

export default function streamWorkspaceEventsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/workspaces/:id/events/stream',
    {
      // No automatic HEAD: Fastify would drain the stream into nothing and it would stay subscribed for good.
      exposeHeadRoute: false,
      config: { minRole: 'reader', validationError: 'invalid workspace ID' },
      schema: {
        operationId: 'streamWorkspaceEvents',
        tags: ['events'],
        summary: 'Stream one workspace’s events (Server-Sent Events)',
        description: `The reference’s stream path (§7): the admin chain or the workspace’s own token. ${EVENT_STREAM_DESCRIPTION}`,
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        querystring: Type.Object({
          last_event_id: Type.Optional(Text({ description: 'As the Last-Event-ID header, for a first connection; the header wins.' })),
        }),
        headers: EventStreamHeaders,
        response: {
          200: { description: 'The event stream.', content: { 'text/event-stream': { schema: Type.String() } } },
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_NOT_FOUND', 'STREAM_LIMIT'),
        },
      },
    },
    async (request, reply) => {
      const workspaceId = request.params.id.toLowerCase();
      if (!(await getWorkspace(ctx.db, workspaceId))) throw new DomainError('WORKSPACE_NOT_FOUND');
      const lastEventId = resumePoint(request.headers['last-event-id'], request.query.last_event_id);
      return sendEventStream(request, reply, ctx, { workspaceId, lastEventId });
    },
  );
}
