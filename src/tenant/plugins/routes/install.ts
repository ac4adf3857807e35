import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { InstallBody } from '../schemas.js';
import { installPlugin, parsePluginSource, pluginCatalog, requireCatalogPlugin } from '../service.js';
import { restartIfRunning } from './restart.js';

export default function installPluginRoute(app: App, ctx: TenantContext) {
  app.post(
    '/workspaces/:id/plugins',
    {
      config: { minRole: 'editor', validationError: 'invalid request body' },
      schema: {
        operationId: 'installPlugin',
        tags: ['plugins'],
        summary: 'Install a catalog plugin into a workspace',
        description:
          'Its files become the workspace’s files at `plugins/<name>/…` (materialised at the runtime’s next start; `restart: true` restarts a running workspace now). ' +
          'Installing an installed plugin again replaces it. A bad name or source → 400 naming it; not in the catalog (or not that version) → 404 `plugin not found`; ' +
          'outside a non-empty org allowlist → 403 `plugin "<name>" is not in the org allowlist` (the reference’s refusal); the allowlist unreadable → 503 (fails closed); ' +
          'environment the plugin needs that neither the workspace’s nor the org-wide secrets hold → 412 with `missing_env`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: InstallBody,
        response: {
          200: Type.Object({
            status: Type.Literal('installed'),
            plugin: Type.String(),
            version: Type.String(),
            source: Type.String(),
            restarting: Type.Boolean(),
          }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'PLUGIN_NOT_FOUND', 'PLUGIN_NOT_ALLOWED', 'PLUGIN_ENV_MISSING'),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      // Everything about the request is checked before the transaction: nothing is written for bad input.
      const source = parsePluginSource(request.body.source);
      const plugin = requireCatalogPlugin(pluginCatalog(ctx.config, ctx.log), source);
      const result = await installPlugin(ctx.db, id, plugin, source, request.principal!.actor, auditEventForReply(reply, 200));
      request.auditWritten = true;
      await ctx.events.recordAfterCommit('PLUGIN_INSTALLED', id, { plugin: result.plugin, version: result.version, source: result.source });
      const restarting = request.body.restart === true ? await restartIfRunning(ctx, id, `plugin ${result.plugin} installed`) : false;
      return { ...result, restarting };
    },
  );
}
