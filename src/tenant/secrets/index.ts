import type { DomainRoutes } from '../routes.js';
import deleteGlobalSecretRoute from './routes/delete-global-secret.js';
import deleteWorkspaceSecretRoute from './routes/delete-workspace-secret.js';
import listGlobalSecretsRoute from './routes/list-global-secrets.js';
import listWorkspaceSecretsRoute from './routes/list-workspace-secrets.js';
import setGlobalSecretRoute from './routes/set-global-secret.js';
import setWorkspaceSecretRoute from './routes/set-workspace-secret.js';

/**
 * Workspace secrets (spec §3.7) are served to the admin chain or the workspace's own token; org-wide secrets
 * (`/settings/secrets`, legacy `/admin/secrets`, §3.8) only to the admin chain, org-wide.
 */
export const secretsRoutes: DomainRoutes = {
  admin: [listGlobalSecretsRoute, setGlobalSecretRoute, deleteGlobalSecretRoute],
  workspace: [listWorkspaceSecretsRoute, setWorkspaceSecretRoute, deleteWorkspaceSecretRoute],
};
