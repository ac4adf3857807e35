import type { DomainRoutes } from '../routes.js';
import exportAuditRoute from './routes/export.js';
import queryAuditRoute from './routes/query.js';
import verifyAuditRoute from './routes/verify.js';

export const auditRoutes: DomainRoutes = {
  admin: [queryAuditRoute, verifyAuditRoute, exportAuditRoute],
};
