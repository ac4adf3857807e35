import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { TemplateIdParams } from '../schemas.js';
import { deleteTemplate } from '../service.js';

export default function deleteTemplateRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/templates/:id',
    {
      config: { minRole: 'admin', orgWide: true, validationError: 'invalid template id' },
      schema: {
        operationId: 'deleteTemplate',
        tags: ['templates'],
        summary: 'Delete a template',
        description:
          'Refused with 409 while a workspace that is not removed uses it (`workspaces` names them), and for a built-in (replace it with PUT instead). ' +
          'A MOLECULE_TEMPLATES_DIR template comes back at the next boot or refresh unless its directory is gone. Unknown id → 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: TemplateIdParams,
        response: {
          200: Type.Object({ status: Type.Literal('deleted'), id: Type.String() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'NOT_FOUND', 'CONFLICT', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      await deleteTemplate(ctx.db, request.params.id, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { status: 'deleted' as const, id: request.params.id };
    },
  );
}
