import type { DomainRoutes } from '../routes.js';
import exportBundleRoute from './routes/export.js';
import importBundleRoute from './routes/import.js';

export { workspaceOwnFiles } from './store.js';

export const bundleRoutes: DomainRoutes = {
  // Org-wide: it creates workspaces (a bound key is refused, as on POST /workspaces).
  admin: [importBundleRoute],
  // Bound to :id: a key confined to other workspaces gets 404, and sees only the sub-workspaces it is bound to.
  adminBound: [exportBundleRoute],
};
