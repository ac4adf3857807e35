import type { DomainRoutes } from '../routes.js';
import exportOrgRoute from './routes/export.js';
import importOrgRoute from './routes/import.js';
import listOrgTemplatesRoute from './routes/list-templates.js';

/** Org templates, import and export (issue 10 item 2; reference §3.11). */
export const orgImportRoutes: DomainRoutes = {
  admin: [listOrgTemplatesRoute, importOrgRoute, exportOrgRoute],
};
