import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { TEMPLATE_BODY_LIMIT, TemplateBody } from '../schemas.js';
import { importTemplate } from '../service.js';

export default function importTemplateRoute(app: App, ctx: TenantContext) {
  app.post(
    '/templates/import',
    {
      bodyLimit: TEMPLATE_BODY_LIMIT,
      config: { minRole: 'admin', orgWide: true, validationError: 'invalid request body' },
      schema: {
        operationId: 'importTemplate',
        tags: ['templates'],
        summary: 'Import a template from files (201)',
        description:
          'The id is the normalised name (reference normalizeName). Every path and file is checked before anything is written: ' +
          'more than 200 files → 400 `too many files (N), max 200`; a bad path (empty, `.`, absolute, `..`, backslash, NUL, not normalised, too deep or long) → 400 naming it; ' +
          'a file that is not UTF-8 text → 400 naming it; over 1 MiB a file or 10 MiB in all → 413 naming it; an invalid config.yaml → 400. ' +
          'Without config.yaml one is generated as the reference does. The id taken → 409 `{"error":"template already exists","id"}`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        body: TemplateBody,
        response: {
          201: Type.Object({ status: Type.Literal('imported'), id: Type.String(), name: Type.String() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const imported = await importTemplate(ctx.db, request.body, auditEventForReply(reply, 201));
      request.auditWritten = true;
      return reply.code(201).send({ status: 'imported' as const, ...imported });
    },
  );
}
