import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceId } from '../../workspaces/schemas.js';
import { PluginName } from '../schemas.js';
import { uninstallPlugin } from '../service.js';
import { pluginNameProblem } from '../catalog.js';
import { restartIfRunning } from './restart.js';

export default function uninstallPluginRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/workspaces/:id/plugins/:name',
    {
      config: { minRole: 'editor', validationError: 'invalid plugin name' },
      schema: {
        operationId: 'uninstallPlugin',
        tags: ['plugins'],
        summary: 'Remove a plugin from a workspace',
        description:
          'Its files leave the workspace at the runtime’s next start (`?restart=true`: now, when it runs). A bad name → 400 `invalid plugin name`; not installed → 404 `plugin not installed`.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: Type.Object({ id: WorkspaceId, name: PluginName }),
        querystring: Type.Object({ restart: Type.Optional(Type.Boolean({ default: false })) }),
        response: {
          200: Type.Object({ status: Type.Literal('uninstalled'), plugin: Type.String(), restarting: Type.Boolean() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'PLUGIN_NOT_INSTALLED'),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const name = request.params.name;
      // The pattern admits `a..b`; the reference refuses any name containing `..` (§3.14).
      const problem = pluginNameProblem(name);
      if (problem) throw new ValidationError('invalid plugin name', { plugin_name: name, detail: problem });
      await uninstallPlugin(ctx.db, id, name, auditEventForReply(reply, 200));
      request.auditWritten = true;
      await ctx.events.recordAfterCommit('PLUGIN_UNINSTALLED', id, { plugin: name });
      const restarting = request.query.restart === true ? await restartIfRunning(ctx, id, `plugin ${name} uninstalled`) : false;
      return { status: 'uninstalled' as const, plugin: name, restarting };
    },
  );
}
