import { Type } from 'typebox';
import { verifyChain } from '../../../core/audit/chain.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';

export default function verifyAuditRoute(app: App, ctx: TenantContext) {
  app.get(
    '/audit/verify',
    {
      config: { minRole: 'admin', orgWide: true },
      schema: {
        operationId: 'verifyAudit',
        tags: ['audit'],
        summary: 'Prove the audit chain unbroken',
        description: 'Recomputes every hash. `{ok:true, count, head}`, or `{ok:false, broken_at}` naming the first row that was altered, removed or reordered.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: {
          200: Type.Union([
            Type.Object({ ok: Type.Literal(true), count: Type.Integer(), head: Type.String() }),
            Type.Object({ ok: Type.Literal(false), count: Type.Integer(), broken_at: Type.Integer(), event_id: Type.Union([Type.String(), Type.Null()]), reason: Type.String() }),
          ]),
          ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED'),
        },
      },
    },
    async () => {
      await ctx.auditWriter.flush();
      return verifyChain(ctx.db);
    },
  );
}
