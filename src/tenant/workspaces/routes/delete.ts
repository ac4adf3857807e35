import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../schemas.js';
import { removeWorkspace } from '../service.js';
import { Text } from '../../../core/http/input.js';
import { holdForApproval } from '../../approvals/gate.js';
import { PendingApprovalReply } from '../../approvals/schemas.js';


export default function deleteWorkspaceRoute(app: App, ctx: TenantContext) {
  app.delete(
    '/workspaces/:id',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace ID', gatedInHandler: true },
      schema: {
        operationId: 'deleteWorkspace',
        tags: ['workspaces'],
        summary: 'Remove a workspace (and, with confirm=true, its descendants)',
        description:
          'Gated by the approval gate (`workspace_delete`; every delete of an approval-required key). Revokes every token of the removed workspaces. `X-Confirm-Name`, when sent, must equal the workspace name. Live children without `?confirm=true` → 409. A workspace-bound key with a descendant outside its binding → 404, naming nothing.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        headers: Type.Object({ 'x-confirm-name': Type.Optional(Text()) }),
        querystring: Type.Object({ confirm: Type.Optional(Type.Boolean({ default: false })) }),
        response: {
          200: Type.Object({ status: Type.Literal('removed'), id: Type.String(), cascade_deleted: Type.Integer() }),
          202: PendingApprovalReply,
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'CONFIRMATION_REQUIRED', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const cascade = request.query.confirm ?? false;
      const gate = { action: 'workspace_delete' as const, workspaceId: id, reason: `delete workspace ${id}${cascade ? ' and its descendants' : ''}`, context: { workspace_id: id, cascade } };
      if (await holdForApproval(ctx, request, reply, gate)) return reply;
      const removedIds = await removeWorkspace(
        ctx.db,
        id,
        { confirmName: request.headers['x-confirm-name'], cascade, scope: request.principal!.workspaceIds },
        auditEventForReply(reply, 200),
      );
      request.auditWritten = true;
      await ctx.lifecycle.removed(removedIds);
      // Their event streams get the WORKSPACE_REMOVED just recorded, then end.
      ctx.streams.workspacesRemoved(removedIds);
      return { status: 'removed' as const, id, cascade_deleted: removedIds.length - 1 };
    },
  );
}
