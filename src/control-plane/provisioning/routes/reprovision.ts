import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import { appendAuditEvents } from '../../../core/audit/chain.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { SlugParams } from '../../orgs/schemas.js';
import { FIRST_STAGE, startProvisioning, waitingMessage } from '../../orgs/service.js';
import { findOrgBySlug } from '../../orgs/store.js';

/**
 * POST /admin/orgs/:slug/reprovision (issue 9): the retry for an org whose provisioning failed (or never started,
 * e.g. created while TENANT_PROVISIONER=none). What an earlier attempt created — database, role, admin token — is
 * reused. A running org is 409: redeploy it instead.
 */
export default function reprovisionRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/admin/orgs/:slug/reprovision',
    {
      schema: {
        operationId: 'adminReprovisionOrg',
        tags: ['admin'],
        summary: 'Provision the org’s tenant again after a failure',
        description: '202: provisioning restarted; follow it with GET /orgs/:slug/provision-status. 409 when the org is running (use redeploy) or awaiting payment.',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        response: {
          202: Type.Object({ slug: Type.String(), status: Type.Literal('provisioning'), provisioner: Type.String() }),
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'CONFLICT'),
        },
      },
    },
    async (request, reply) => {
      const org = await findOrgBySlug(ctx.db, request.params.slug);
      if (!org) throw new DomainError('ORG_NOT_FOUND');
      if (org.status === 'running' || org.status === 'awaiting_payment' || org.status === 'suspended') {
        throw new DomainError('CONFLICT', `org "${org.slug}" is ${org.status}; only a failed or provisioning org can be reprovisioned${org.status === 'running' ? ' (redeploy a running one)' : ''}`, { status: org.status });
      }
      await ctx.db.transaction().execute(async (tx) => {
        await tx.updateTable('organizations').set({ status: 'provisioning', last_error: null, updated_at: new Date() }).where('id', '=', org.id).execute();
        await tx
          .insertInto('org_instances')
          .values({ org_id: org.id, ...FIRST_STAGE, message: waitingMessage(ctx.provisioner.name) })
          .onConflict((oc) => oc.column('org_id').doUpdateSet({ ...FIRST_STAGE, message: waitingMessage(ctx.provisioner.name), last_error: null, updated_at: new Date() }))
          .execute();
        await appendAuditEvents(tx, [auditEventForReply(reply, 202)]);
      });
      request.auditWritten = true;
      await startProvisioning(ctx, org);
      return reply.code(202).send({ slug: org.slug, status: 'provisioning' as const, provisioner: ctx.provisioner.name });
    },
  );
}
