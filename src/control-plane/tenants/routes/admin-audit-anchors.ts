import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { findOrgBySlug } from '../../orgs/store.js';
import { AuditAnchor, presentAnchor } from '../schemas.js';
import { listAnchors } from '../store.js';

export default function adminTenantAuditAnchorsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/tenants/:slug/audit-anchors',
    {
      schema: {
        operationId: 'adminListTenantAuditAnchors',
        tags: ['admin'],
        summary: 'Every audit chain head an org’s tenant reported, newest first',
        description: 'A report whose count is lower than an earlier one is a rewound chain (the tenant was told 409 AUDIT_ANCHOR_REGRESSION).',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }),
        response: {
          200: Type.Object({
            slug: Type.String(),
            anchors: Type.Array(Type.Object({ ...AuditAnchor.properties, reason: Type.String() })),
          }),
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const org = await findOrgBySlug(ctx.db, request.params.slug);
      if (!org) throw new DomainError('ORG_NOT_FOUND');
      const rows = await listAnchors(ctx.db, org.id, request.query.limit ?? 50);
      return { slug: org.slug, anchors: rows.map((a) => ({ ...presentAnchor(a), reason: a.reason })) };
    },
  );
}
