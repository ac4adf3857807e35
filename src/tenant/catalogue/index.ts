import type { DomainRoutes } from '../routes.js';
import { adminMintWorkspaceTokenRoute, adminRestartRoute, revokeAuthTokensRoute } from './routes/admin-workspace.js';
import { canvasViewportRoute, workspaceAuditRoute } from './routes/audit-viewport.js';
import { buildInfoRoute, livenessRoute, orgIdentityRoute } from './routes/info.js';
import { getModelRoute, hibernateWorkspaceRoute, providerGoneRoute, secretValuesRoute, setModelRoute, workspaceStateRoute } from './routes/workspace.js';

/**
 * The rest of the reference's tenant route catalogue (issue 11, items 6–7), mapped onto our tiers: reference "Open"
 * → `runtime` (TenantGuard still applies; /buildinfo is allowlisted past it), "Admin" → `admin` (org-wide) or
 * `adminBound` (on a workspace path), "WS" → `workspace`, "C|B" (PUT /canvas/viewport) → `admin`.
 */
export const catalogueRoutes: DomainRoutes = {
  runtime: [buildInfoRoute, orgIdentityRoute],
  admin: [livenessRoute, canvasViewportRoute],
  adminBound: [adminMintWorkspaceTokenRoute, revokeAuthTokensRoute, adminRestartRoute],
  workspace: [workspaceStateRoute, hibernateWorkspaceRoute, getModelRoute, setModelRoute, providerGoneRoute, secretValuesRoute, workspaceAuditRoute],
};
