import { Readable } from 'node:stream';
import { iterateAudit, presentAuditRow, AuditFilterQuery } from '../../../core/audit/query.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';

export default function exportAuditRoute(app: App, ctx: TenantContext) {
  app.get(
    '/audit/export',
    {
      config: { minRole: 'admin', orgWide: true },
      schema: {
        operationId: 'exportAudit',
        tags: ['audit'],
        summary: 'Export the audit trail as NDJSON, oldest first',
        description: 'One JSON event per line (`application/x-ndjson`), streamed; the same filters as GET /audit.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        querystring: AuditFilterQuery,
        response: errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED'),
      },
    },
    async (request, reply) => {
      await ctx.auditWriter.flush();
      const rows = iterateAudit(ctx.db, request.query);
      const stream = Readable.from(
        (async function* () {
          for await (const row of rows) yield JSON.stringify(presentAuditRow(row)) + '\n';
        })(),
      );
      reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="audit.ndjson"');
      return reply.send(stream as never); // a stream, not a schema-shaped object
    },
  );
}
