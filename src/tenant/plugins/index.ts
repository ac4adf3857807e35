import type { DomainRoutes } from '../routes.js';
import { getPluginAllowlistRoute, putPluginAllowlistRoute } from './routes/allowlist.js';
import installPluginRoute from './routes/install.js';
import listPluginCatalogRoute from './routes/list-catalog.js';
import listWorkspacePluginsRoute from './routes/list-installed.js';
import uninstallPluginRoute from './routes/uninstall.js';

export { pluginCatalog } from './service.js';
export { workspacePluginFiles } from './store.js';

export const pluginRoutes: DomainRoutes = {
  admin: [listPluginCatalogRoute, getPluginAllowlistRoute, putPluginAllowlistRoute],
  // The reference mounts the workspace's plugin routes under WorkspaceAuth: the admin chain or that workspace's token.
  workspace: [listWorkspacePluginsRoute, installPluginRoute, uninstallPluginRoute],
};
