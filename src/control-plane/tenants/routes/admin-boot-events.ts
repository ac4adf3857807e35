import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { findOrgBySlug } from '../../orgs/store.js';
import { listBootEvents } from '../store.js';

export default function adminTenantBootEventsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/tenants/:slug/boot-events',
    {
      schema: {
        operationId: 'adminListTenantBootEvents',
        tags: ['admin'],
        summary: 'What an org’s tenant reported while booting, newest first',
        description: '`slug` doubles as an existence probe: an org that no longer exists is 404 (reference §2.4).',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }),
        response: {
          200: Type.Object({
            slug: Type.String(),
            events: Type.Array(Type.Object({ stage: Type.String(), detail: Type.Union([Type.String(), Type.Null()]), at: Type.String({ format: 'date-time' }) })),
          }),
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const org = await findOrgBySlug(ctx.db, request.params.slug);
      if (!org) throw new DomainError('ORG_NOT_FOUND');
      const rows = await listBootEvents(ctx.db, org.id, request.query.limit ?? 50);
      return { slug: org.slug, events: rows.map((r) => ({ stage: r.stage, detail: r.detail, at: new Date(r.at).toISOString() })) };
    },
  );
}
