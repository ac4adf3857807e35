import type { ControlPlaneDomainRoutes } from '../routes.js';
import createOrgRoute from './routes/create.js';
import deleteOrgRoute from './routes/delete.js';
import exportOrgRoute from './routes/export.js';
import getOrgRoute from './routes/get.js';
import orgInstanceRoute from './routes/instance.js';
import listOrgsRoute from './routes/list.js';
import provisionStatusRoute from './routes/provision-status.js';
import orgStatusRoute from './routes/status.js';
import orgUsageRoute from './routes/usage.js';
import createOrgWorkspaceRoute from './routes/create-workspace.js';

export const orgRoutes: ControlPlaneDomainRoutes = {
  public: [orgInstanceRoute],
  session: [createOrgRoute, listOrgsRoute, getOrgRoute, deleteOrgRoute, exportOrgRoute, provisionStatusRoute, orgStatusRoute, orgUsageRoute, createOrgWorkspaceRoute],
};
