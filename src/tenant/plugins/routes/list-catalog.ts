import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { CatalogItem } from '../schemas.js';
import { pluginCatalog } from '../service.js';

export default function listPluginCatalogRoute(app: App, ctx: TenantContext) {
  app.get(
    '/plugins',
    {
      config: { minRole: 'reader' },
      schema: {
        operationId: 'listPluginCatalog',
        tags: ['plugins'],
        summary: 'List the plugins that can be installed',
        description: 'The built-in plugins and MOLECULE_PLUGINS_DIR’s, by name: each with its version, description, the environment it needs and its files.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        response: { 200: Type.Array(CatalogItem), ...errorResponses(...AUTH_ERRORS, 'INVALID_ADMIN_AUTH') },
      },
    },
    async () =>
      pluginCatalog(ctx.config, ctx.log)
        .list()
        .map((p) => ({
          name: p.name,
          version: p.version,
          description: p.description,
          required_env: p.required_env,
          skills: p.skills,
          files: Object.keys(p.files).sort(),
          origin: p.origin,
          source: `local://${p.name}`,
        })),
  );
}
