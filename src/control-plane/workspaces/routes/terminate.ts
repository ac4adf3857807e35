import { Type } from 'typebox';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { InstanceId, PROVISION_ERRORS, WorkspaceIdParam } from '../schemas.js';

export default function terminateWorkspaceRoute(app: App, ctx: ControlPlaneContext) {
  app.delete(
    '/workspaces/:workspace_id',
    {
      schema: {
        operationId: 'terminateWorkspace',
        tags: ['workspaces'],
        summary: 'Stop a workspace runtime the control plane runs (idempotent)',
        description:
          'The org is the one of X-Molecule-Admin-Token, never a header or the body (reference §2.5, #118): another org’s workspace is 404 and keeps running. ' +
          '`instance_id` limits the stop to that instance. Only the literal `prune=true` also deletes the agent’s directory. 200 `{status:"terminated"}`, again on a repeat.',
        security: [{ provisionSecret: [], tenantAdminHeader: [] }],
        params: Type.Object({ workspace_id: WorkspaceIdParam }),
        querystring: Type.Object(
          {
            instance_id: Type.Optional(InstanceId),
            provider: Type.Optional(Type.String({ maxLength: 64, pattern: '^[a-z0-9-]*$', 'x-error': 'must be a lowercase provider name' })),
            prune: Type.Optional(Type.String({ maxLength: 16, description: 'Only `true` erases the agent’s directory now.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ status: Type.Literal('terminated'), pruned: Type.Boolean() }),
          ...errorResponses(...PROVISION_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const orgId = request.principal!.orgId!;
      const workspaceId = request.params.workspace_id.toLowerCase();
      const instanceId = request.query.instance_id ?? null;
      const instances = await ctx.workspaces.instancesOf(orgId, workspaceId);
      if (instances.length === 0 || (instanceId !== null && !instances.some((i) => i.instance_id === instanceId))) throw new DomainError('WORKSPACE_NOT_FOUND');
      const prune = request.query.prune === 'true';
      await ctx.workspaces.stopInstances(orgId, workspaceId, instanceId, prune);
      return reply.code(200).send({ status: 'terminated' as const, pruned: prune });
    },
  );
}
