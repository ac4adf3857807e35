import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { TEMPLATE_BODY_LIMIT, TemplateBody, TemplateIdParams } from '../schemas.js';
import { replaceTemplate } from '../service.js';

export default function replaceTemplateRoute(app: App, ctx: TenantContext) {
  app.put(
    '/templates/:id',
    {
      bodyLimit: TEMPLATE_BODY_LIMIT,
      config: { minRole: 'admin', orgWide: true, validationError: 'invalid request body' },
      schema: {
        operationId: 'replaceTemplate',
        tags: ['templates'],
        summary: 'Replace a template’s files: a new version',
        description:
          'Same body and checks as POST /templates/import. Running workspaces keep the files they started with until they restart. ' +
          'A built-in or MOLECULE_TEMPLATES_DIR template replaced here is no longer overwritten from disk at boot or refresh. Unknown id → 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: TemplateIdParams,
        body: TemplateBody,
        response: {
          200: Type.Object({ status: Type.Literal('updated'), id: Type.String(), name: Type.String(), version: Type.Integer() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const replaced = await replaceTemplate(ctx.db, request.params.id, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { status: 'updated' as const, ...replaced };
    },
  );
}
