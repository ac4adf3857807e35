import type { ControlPlaneDomainRoutes } from '../routes.js';
import reprovisionRoute from './routes/reprovision.js';

/** The provisioning domain's own routes (the tenant callbacks and the provisioning API live in their domains). */
export const provisioningRoutes: ControlPlaneDomainRoutes = {
  admin: [reprovisionRoute],
};
