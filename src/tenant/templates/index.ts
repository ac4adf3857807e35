import type { DomainRoutes } from '../routes.js';
import deleteTemplateRoute from './routes/delete.js';
import getTemplateRoute from './routes/get.js';
import importTemplateRoute from './routes/import.js';
import listTemplatesRoute from './routes/list.js';
import refreshTemplatesRoute from './routes/refresh.js';
import replaceTemplateRoute from './routes/replace.js';
import switchWorkspaceTemplateRoute from './routes/switch-workspace-template.js';

export { BUILTIN_TEMPLATES_DIR, refreshTemplates, requireTemplate, resolveWorkspaceAgent } from './service.js';

export const templateRoutes: DomainRoutes = {
  admin: [listTemplatesRoute, getTemplateRoute, importTemplateRoute, replaceTemplateRoute, deleteTemplateRoute, refreshTemplatesRoute],
  // Admin-bound: a key confined to other workspaces gets 404 for this one.
  adminBound: [switchWorkspaceTemplateRoute],
};
