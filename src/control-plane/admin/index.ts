import { auditDb } from '../../core/audit/schema.js';
import { registerAuditRoutes } from '../../core/audit/routes.js';
import type { ControlPlaneDomainRoutes } from '../routes.js';
import adminCreateOrgRoute from './routes/create-org.js';
import adminListOrgsRoute from './routes/list-orgs.js';
import { ADMIN_ERRORS } from './errors.js';

export const adminRoutes: ControlPlaneDomainRoutes = {
  admin: [
    adminListOrgsRoute,
    adminCreateOrgRoute,
    (app, ctx) =>
      registerAuditRoutes(app, {
        path: '/admin/audit',
        db: auditDb(ctx.db),
        writer: ctx.auditWriter,
        config: {},
        security: [{ cpAdmin: [] }],
        errors: ADMIN_ERRORS,
        operationNoun: 'ControlPlaneAudit',
      }),
  ],
};
