import { auditDb } from '../../core/audit/schema.js';
import { registerAuditRoutes } from '../../core/audit/routes.js';
import { AUTH_ERRORS } from '../../core/http/responses.js';
import type { DomainRoutes } from '../routes.js';

export const auditRoutes: DomainRoutes = {
  admin: [
    (app, ctx) => {
      const callbacks = ctx.callbacks;
      registerAuditRoutes(app, {
        path: '/audit',
        db: auditDb(ctx.db),
        writer: ctx.auditWriter,
        config: { minRole: 'admin', orgWide: true },
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        errors: [...AUTH_ERRORS, 'INVALID_ADMIN_AUTH', 'SCOPE_EXCEEDED'],
        // A CP-provisioned tenant's chain is also held to the anchor it reported to its control plane.
        anchorable: true,
        ...(callbacks ? { anchor: () => callbacks.lookupAnchor() } : {}),
      });
    },
  ],
};
