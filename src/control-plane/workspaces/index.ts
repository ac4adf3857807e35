import type { ControlPlaneDomainRoutes } from '../routes.js';
import listRuntimeImagesRoute from './routes/list-runtime-images.js';
import promoteRuntimeImageRoute from './routes/promote-runtime-image.js';
import provisionWorkspaceRoute from './routes/provision.js';
import workspaceStatusRoute from './routes/status.js';
import terminateWorkspaceRoute from './routes/terminate.js';

export { terminateOrgWorkspaces, WorkspaceRunner } from './runner.js';

/** Workspaces run by the control plane (reference §2.5) and the runtime-image pins they need (§2.4). */
export const workspaceRoutes: ControlPlaneDomainRoutes = {
  provision: [provisionWorkspaceRoute, terminateWorkspaceRoute, workspaceStatusRoute],
  admin: [listRuntimeImagesRoute, promoteRuntimeImageRoute],
};
