import type { DomainRoutes } from '../routes.js';
import createWorkspaceRoute from './routes/create.js';
import deleteWorkspaceRoute from './routes/delete.js';
import getWorkspaceRoute from './routes/get.js';
import { pauseWorkspaceRoute, restartWorkspaceRoute, resumeWorkspaceRoute } from './routes/lifecycle-actions.js';
import listWorkspacesRoute from './routes/list.js';
import workspaceLogsRoute from './routes/logs.js';
import updateWorkspaceRoute from './routes/update.js';

export const workspaceRoutes: DomainRoutes = {
  admin: [createWorkspaceRoute, listWorkspacesRoute],
  // The logs route is admin-bound: an org key confined elsewhere gets 404, and it refuses workspace tokens itself.
  adminBound: [deleteWorkspaceRoute, workspaceLogsRoute],
  workspace: [getWorkspaceRoute, updateWorkspaceRoute, restartWorkspaceRoute, pauseWorkspaceRoute, resumeWorkspaceRoute],
};
