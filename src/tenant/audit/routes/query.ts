import { Type } from 'typebox';
import { AuditEvent, AuditFilterQuery, presentAuditRow, queryAudit } from '../../../core/audit/query.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';

export default function queryAuditRoute(app: App, ctx: TenantContext) {
  app.get(
    '/audit',
    {
      config: { minRole: 'admin', orgWide: true },
      schema: {
        operationId: 'queryAudit',
        tags: ['audit'],
        summary: 'Query the audit trail, newest first',
        description: 'Every authenticated request is one event. Filter by actor, credential, method, path prefix, status and time; page with `cursor`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: Type.Object({
          ...AuditFilterQuery.properties,
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          cursor: Type.Optional(Type.Integer({ minimum: 1, description: '`next_cursor` from the previous page.' })),
        }),
        response: {
          200: Type.Object({ events: Type.Array(AuditEvent), count: Type.Integer(), next_cursor: Type.Union([Type.Integer(), Type.Null()]) }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED'),
        },
      },
    },
    async (request) => {
      // Make this request's own predecessors visible: reads are written behind, so flush before querying.
      await ctx.auditWriter.flush();
      const { limit = 100, cursor, ...filter } = request.query;
      const rows = await queryAudit(ctx.db, filter, limit, cursor);
      const events = rows.map(presentAuditRow);
      return { events, count: events.length, next_cursor: rows.length === limit ? events[events.length - 1]!.seq : null };
    },
  );
}
