import type { DomainRoutes } from '../routes.js';
import listWorkspaceTokensRoute from './routes/list.js';
import mintWorkspaceTokenRoute from './routes/mint.js';
import revokeWorkspaceTokenRoute from './routes/revoke.js';

export const workspaceTokenRoutes: DomainRoutes = {
  workspace: [listWorkspaceTokensRoute, mintWorkspaceTokenRoute, revokeWorkspaceTokenRoute],
};
