import { Type } from 'typebox';
import { canSeeWorkspace } from '../../../core/auth/principal.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceId } from '../../workspaces/schemas.js';
import { resumePoint } from '../sse.js';
import { sendEventStream } from '../stream-registry.js';
import { EVENT_STREAM_DESCRIPTION, EventStreamHeaders } from './schemas.js';
import { Text } from '../../../core/http/input.js';

export const EventStreamQuery = Type.Object({
  workspace_id: Type.Optional(WorkspaceId),
  last_event_id: Type.Optional(Text({ description: 'As the Last-Event-ID header, for a first connection; the header wins.' })),
});

export default function streamEventsRoute(app: App, ctx: TenantContext) {
  app.get(
    '/events/stream',
    {
      // No automatic HEAD: Fastify would drain the stream into nothing and it would stay subscribed for good.
      exposeHeadRoute: false,
      // Not orgWide: a workspace-bound key may follow the workspaces of its binding, one per stream (checked below).
      config: { minRole: 'reader' },
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary: 'Stream events (Server-Sent Events)',
        description:
          `${EVENT_STREAM_DESCRIPTION} Every workspace’s events, or one workspace’s with \`?workspace_id=\`. ` +
          'A workspace-bound key must name a workspace of its binding (none: 403; another: 404).',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: EventStreamQuery,
        headers: EventStreamHeaders,
        response: {
          200: { description: 'The event stream.', content: { 'text/event-stream': { schema: Type.String() } } },
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED', 'WORKSPACE_NOT_FOUND', 'STREAM_LIMIT'),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const workspaceId = request.query.workspace_id?.toLowerCase() ?? null;
      if (principal.workspaceIds !== null) {
        // No filter means every workspace: the org-wide case a bound key may not take.
        if (workspaceId === null) throw new DomainError('SCOPE_EXCEEDED');
        if (!canSeeWorkspace(principal, workspaceId)) throw new DomainError('WORKSPACE_NOT_FOUND');
      }
      const lastEventId = resumePoint(request.headers['last-event-id'], request.query.last_event_id);
      return sendEventStream(request, reply, ctx, { workspaceId, lastEventId });
    },
  );
}
