import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { TENANT_SECURITY, TENANT_TIER_ERRORS } from '../errors.js';
import { AuditAnchor, presentAnchor } from '../schemas.js';
import { tenantOrgOf } from '../service.js';
import { highWaterAnchor } from '../store.js';

export default function latestAuditAnchorRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/tenants/audit-anchor',
    {
      schema: {
        operationId: 'getTenantAuditAnchor',
        tags: ['tenants'],
        summary: 'The anchor a tenant’s audit chain is held to (tenant admin token)',
        description:
          'The longest chain the tenant ever reported (the first report of that length): a later report that is shorter, or as long with another head, is a regression and does not replace it. 404 AUDIT_ANCHOR_NOT_FOUND before the first report.',
        security: TENANT_SECURITY,
        response: {
          200: AuditAnchor,
          ...errorResponses(...TENANT_TIER_ERRORS, 'AUDIT_ANCHOR_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const anchor = await highWaterAnchor(ctx.db, tenantOrgOf(request.principal));
      if (!anchor) throw new DomainError('AUDIT_ANCHOR_NOT_FOUND');
      return presentAnchor(anchor);
    },
  );
}
