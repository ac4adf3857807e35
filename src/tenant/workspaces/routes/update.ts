import { sql } from 'kysely';
import { Type, type Static } from 'typebox';
import { appendAuditEvents } from '../../../core/audit/chain.js';
import { auditEventForReply } from '../../../core/audit/request.js';
import { isUniqueViolation } from '../../../core/db/index.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { presentWorkspace } from '../present.js';
import { Workspace, WorkspaceIdParams } from '../schemas.js';
import { checkFields } from '../service.js';
import { getWorkspace } from '../store.js';
import { requireTemplate } from '../../templates/service.js';
import { WorkspaceCreateRequest } from './create.js';

const P = WorkspaceCreateRequest.properties;

export const WorkspaceUpdateRequest = Type.Object(
  {
    name: Type.Optional(P.name),
    role: P.role,
    tier: P.tier,
    runtime: P.runtime,
    template: P.template,
    model: P.model,
    url: P.url,
    delivery_mode: P.delivery_mode,
    workspace_dir: P.workspace_dir,
    workspace_access: P.workspace_access,
    max_concurrent_tasks: P.max_concurrent_tasks,
  },
  { additionalProperties: false, minProperties: 1, 'x-error': 'must name at least one field to change' },
);
export type WorkspaceUpdateRequest = Static<typeof WorkspaceUpdateRequest>;

export default function updateWorkspaceRoute(app: App, ctx: TenantContext) {
  app.patch(
    '/workspaces/:id',
    {
      config: { minRole: 'editor', validationError: 'invalid workspace payload' },
      schema: {
        operationId: 'updateWorkspace',
        tags: ['workspaces'],
        summary: 'Change a workspace’s settings',
        description: 'Runtime, template, tier and model take effect at the next restart. Unknown fields are refused.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { workspaceToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: WorkspaceUpdateRequest,
        response: { 200: Workspace, ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_WORKSPACE_AUTH', 'CONFLICT') },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const body = request.body;
      const current = await getWorkspace(ctx.db, id);
      if (!current) throw new DomainError('WORKSPACE_NOT_FOUND');
      checkFields({ ...body, name: body.name ?? current.name, workspace_dir: body.workspace_dir ?? current.workspace_dir });
      const changes: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(body)) if (v !== undefined) changes[k] = v;
      let row;
      try {
        row = await ctx.db.transaction().execute(async (trx) => {
          if (typeof body.template === 'string') await requireTemplate(trx, body.template, true);
          const updated = await trx
            .updateTable('workspaces')
            .set({ ...changes, updated_at: sql<Date>`now()` })
            .where('id', '=', id)
            .where('status', '<>', 'removed')
            .returningAll()
            .executeTakeFirst();
          if (!updated) throw new DomainError('WORKSPACE_NOT_FOUND');
          await appendAuditEvents(trx, [auditEventForReply(reply, 200)]);
          return updated;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new DomainError('CONFLICT', 'workspace name already in use; please pick a different name', { field: 'name' });
        throw err;
      }
      request.auditWritten = true;
      await ctx.events.recordAfterCommit('WORKSPACE_UPDATED', id, { fields: Object.keys(changes) });
      return presentWorkspace(row, ctx.lifecycle.processInfo(id));
    },
  );
}
