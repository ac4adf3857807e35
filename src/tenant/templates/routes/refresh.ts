import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { BUILTIN_TEMPLATES_DIR, refreshTemplates } from '../service.js';

export default function refreshTemplatesRoute(app: App, ctx: TenantContext) {
  app.post(
    '/admin/templates/refresh',
    {
      config: { minRole: 'admin', orgWide: true },
      schema: {
        operationId: 'refreshTemplates',
        tags: ['templates'],
        summary: 'Reload the built-in and MOLECULE_TEMPLATES_DIR templates',
        description:
          'What boot does: new directories are loaded, changed ones get a new version, unchanged ones are left alone. A directory that cannot be loaded is listed in `skipped` with why; ' +
          'one whose id was imported or replaced through the API is never overwritten from disk.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: {
          200: Type.Object({
            status: Type.Literal('refreshed'),
            loaded: Type.Array(Type.String()),
            updated: Type.Array(Type.String()),
            unchanged: Type.Array(Type.String()),
            skipped: Type.Array(Type.Object({ id: Type.String(), source: Type.String(), error: Type.String() })),
          }),
          ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (_request, reply) => {
      const report = await refreshTemplates(ctx.db, { builtin: BUILTIN_TEMPLATES_DIR, extra: ctx.config.MOLECULE_TEMPLATES_DIR }, auditEventForReply(reply, 200));
      reply.request.auditWritten = true;
      return { status: 'refreshed' as const, ...report };
    },
  );
}
