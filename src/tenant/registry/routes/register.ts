import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { UUID_PATTERN } from '../../../core/ids.js';
import type { TenantContext } from '../../context.js';
import { authenticateRuntime } from '../auth.js';
import { JsonObject, Text } from '../../../core/http/input.js';

export const RegisterRequest = Type.Object(
  {
    id: Type.String({ pattern: UUID_PATTERN, 'x-error': 'must be a workspace UUID' }),
    url: Type.Optional(Type.Union([Text({ maxLength: 2048 }), Type.Null()])),
    agent_card: Type.Optional(Type.Union([JsonObject({ description: 'The runtime’s self-description, stored as given.' }), Type.Null()])),
    delivery_mode: Type.Optional(Type.Union([Type.Literal('push'), Type.Literal('poll')])),
  },
  { additionalProperties: true, description: 'Unknown fields are ignored: runtimes of other versions may send more.' },
);

export default function registerRuntimeRoute(app: App, ctx: TenantContext) {
  app.post(
    '/registry/register',
    {
      config: { minRole: 'editor' },
      schema: {
        operationId: 'registerRuntime',
        tags: ['registry'],
        summary: 'A workspace runtime announces itself (its own token only)',
        description: 'Allowlisted by TenantGuard. The bearer must be a live token of the workspace named in `id`; the workspace then goes online.',
        security: [{ workspaceToken: [] }],
        body: RegisterRequest,
        response: {
          200: Type.Object({ status: Type.Literal('registered'), delivery_mode: Type.String() }),
          ...errorResponses('VALIDATION_FAILED', 'WORKSPACE_AUTH_REQUIRED', 'INVALID_WORKSPACE_AUTH', 'WORKSPACE_NOT_FOUND', 'platform_unavailable'),
        },
      },
    },
    async (request) => {
      const id = request.body.id.toLowerCase();
      await authenticateRuntime(ctx, request, id);
      const update: { agent_card?: string; url?: string; delivery_mode?: 'push' | 'poll' } = {};
      if (request.body.agent_card !== undefined) update.agent_card = JSON.stringify(request.body.agent_card);
      if (typeof request.body.url === 'string') update.url = request.body.url;
      if (request.body.delivery_mode) update.delivery_mode = request.body.delivery_mode;
      // A bare `{"id"}` changes no column: read the row instead (an UPDATE with an empty SET is a syntax error).
      const row =
        Object.keys(update).length > 0
          ? await ctx.db.updateTable('workspaces').set(update).where('id', '=', id).where('status', '<>', 'removed').returning('delivery_mode').executeTakeFirst()
          : await ctx.db.selectFrom('workspaces').select('delivery_mode').where('id', '=', id).where('status', '<>', 'removed').executeTakeFirst();
      if (!row) throw new DomainError('WORKSPACE_NOT_FOUND');
      await ctx.lifecycle.registered(id);
      return { status: 'registered' as const, delivery_mode: row.delivery_mode };
    },
  );
}
