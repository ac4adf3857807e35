import type { ControlPlaneDomainRoutes } from '../routes.js';
import deleteTenantRoute from './routes/delete-tenant.js';
import getAdminTokenRoute from './routes/get-admin-token.js';
import getLlmBillingModeRoute from './routes/get-llm-billing-mode.js';
import listOrgWorkspacesRoute from './routes/list-org-workspaces.js';
import redeployFleetRoute from './routes/redeploy-fleet.js';
import redeployTenantRoute from './routes/redeploy-tenant.js';
import rotateAdminTokenRoute from './routes/rotate-admin-token.js';
import scrubArtifactsRoute from './routes/scrub-artifacts.js';
import setLlmBillingModeRoute from './routes/set-llm-billing-mode.js';
import setWorkspaceEnvRoute from './routes/set-workspace-env.js';
import tenantDiagnosticsRoute from './routes/tenant-diagnostics.js';

/** Fleet operations on tenants (reference §2.4, §4.6–§4.9): all CP admin bearer, under /api/v1/admin and /cp/admin. */
export const fleetRoutes: ControlPlaneDomainRoutes = {
  admin: [
    getAdminTokenRoute,
    rotateAdminTokenRoute,
    listOrgWorkspacesRoute,
    deleteTenantRoute,
    scrubArtifactsRoute,
    tenantDiagnosticsRoute,
    redeployTenantRoute,
    redeployFleetRoute,
    setWorkspaceEnvRoute,
    getLlmBillingModeRoute,
    setLlmBillingModeRoute,
  ],
};
