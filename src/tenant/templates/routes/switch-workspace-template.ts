import { sql } from 'kysely';
import { Type } from 'typebox';
import { appendAuditEvents } from '../../../core/audit/chain.js';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { AUTH_ERRORS, errorResponses } from '../../../core/http/responses.js';
import type { TenantContext } from '../../context.js';
import { WorkspaceIdParams } from '../../workspaces/schemas.js';
import { TemplateId } from '../schemas.js';
import { requireTemplate } from '../service.js';

/** Statuses in which a workspace has (or is getting) a running process: a switch restarts it. */
const RUNNING = ['provisioning', 'online', 'offline', 'degraded'];

export default function switchWorkspaceTemplateRoute(app: App, ctx: TenantContext) {
  app.patch(
    '/workspaces/:id/template',
    {
      config: { minRole: 'admin', validationError: 'invalid request body' },
      schema: {
        operationId: 'switchWorkspaceTemplate',
        tags: ['templates'],
        summary: 'Switch a workspace to another template',
        description:
          'The template must exist (else 400 naming it). A running workspace restarts with the new template’s files and command; a paused or failed one gets them at its next start. ' +
          'A key bound to other workspaces gets 404.',
        security: [{ orgApiKey: [] }, { adminToken: [] }, { session: [] }],
        params: WorkspaceIdParams,
        body: Type.Object({ template: TemplateId }, { additionalProperties: false }),
        response: {
          200: Type.Object({ status: Type.Literal('updated'), id: Type.String(), template: Type.String(), restarting: Type.Boolean() }),
          ...errorResponses(...AUTH_ERRORS, 'VALIDATION_FAILED', 'WORKSPACE_NOT_FOUND', 'INVALID_ADMIN_AUTH'),
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const template = request.body.template;
      const row = await ctx.db.transaction().execute(async (trx) => {
        // Share lock: a DELETE of the template waits for this write, then sees the workspace using it.
        await requireTemplate(trx, template, true);
        const updated = await trx
          .updateTable('workspaces')
          .set({ template, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('status', '<>', 'removed')
          .returning(['id', 'status', 'external'])
          .executeTakeFirst();
        if (!updated) throw new DomainError('WORKSPACE_NOT_FOUND');
        await appendAuditEvents(trx, [auditEventForReply(reply, 200)]);
        return updated;
      });
      request.auditWritten = true;
      await ctx.events.recordAfterCommit('WORKSPACE_UPDATED', id, { fields: ['template'], template });
      const restarting = !row.external && RUNNING.includes(row.status) && ctx.lifecycle.hasProvisioner;
      if (restarting) ctx.lifecycle.provisionInBackground(id, 'template switched');
      return { status: 'updated' as const, id, template, restarting };
    },
  );
}
