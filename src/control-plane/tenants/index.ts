import type { ControlPlaneDomainRoutes } from '../routes.js';
import adminTenantAuditAnchorsRoute from './routes/admin-audit-anchors.js';
import adminTenantBootEventsRoute from './routes/admin-boot-events.js';
import latestAuditAnchorRoute from './routes/audit-anchor-latest.js';
import reportAuditAnchorRoute from './routes/audit-anchor-report.js';
import tenantBootEventRoute from './routes/boot-event.js';
import tenantConfigRoute from './routes/config.js';

/**
 * The tenant callbacks (reference §2.6): what a tenant asks of and tells the CP, authenticated by its admin token;
 * and the admin views of what tenants told.
 */
export const tenantRoutes: ControlPlaneDomainRoutes = {
  tenant: [tenantConfigRoute, tenantBootEventRoute, reportAuditAnchorRoute, latestAuditAnchorRoute],
  admin: [adminTenantBootEventsRoute, adminTenantAuditAnchorsRoute],
};
