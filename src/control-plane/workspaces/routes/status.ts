import { Type } from 'typebox';
import { DomainError, ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { InstanceId, InstanceState, PROVISION_ERRORS, WorkspaceIdParam } from '../schemas.js';

export default function workspaceStatusRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/workspaces/:workspace_id/status',
    {
      schema: {
        operationId: 'getWorkspaceInstanceStatus',
        tags: ['workspaces'],
        summary: 'The state of a workspace runtime the control plane runs',
        description: 'The tenant treats only `state == "running"` as alive. `instance_id` is required (400 without it); another org’s workspace or instance is 404.',
        security: [{ provisionSecret: [], tenantAdminHeader: [] }],
        params: Type.Object({ workspace_id: WorkspaceIdParam }),
        querystring: Type.Object(
          {
            instance_id: Type.Optional(InstanceId),
            provider: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z0-9-]*$', 'x-error': 'must be a lowercase provider name' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ instance_id: InstanceId, state: InstanceState, public_ip: Type.Null(), private_ip: Type.String() }),
          ...errorResponses(...PROVISION_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const instanceId = request.query.instance_id;
      if (!instanceId) throw new ValidationError('instance_id is required', { fields: ['instance_id'], field: 'instance_id' });
      const instances = await ctx.workspaces.instancesOf(request.principal!.orgId!, request.params.workspace_id.toLowerCase());
      const found = instances.find((i) => i.instance_id === instanceId);
      if (!found) throw new DomainError('WORKSPACE_NOT_FOUND');
      return { instance_id: found.instance_id, state: found.state, public_ip: null, private_ip: '127.0.0.1' };
    },
  );
}
