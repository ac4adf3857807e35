import { auditEventForReply } from '../../../core/audit/request.js';
import { ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ADMIN_ERRORS } from '../../admin/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { purgeOrg } from '../../orgs/purge.js';
import { SlugParams } from '../../orgs/schemas.js';
import { ConfirmSlugRequest, TenantDeleted } from '../schemas.js';
import { requireOrg } from '../service.js';

/** The confirm check comes first: a missing or mismatched confirm is 400 before anything is looked up or stopped. */
export function requireConfirmed(slug: string, confirm: string): void {
  if (confirm !== slug) throw new ValidationError(`confirm: must be the slug in the path ("${slug}"), typed again`, { fields: ['confirm'] });
}

export default function deleteTenantRoute(app: App, ctx: ControlPlaneContext) {
  app.delete(
    '/admin/tenants/:slug',
    {
      schema: {
        operationId: 'adminDeleteTenant',
        tags: ['admin'],
        summary: 'Delete an org and its tenant (the owner delete’s cascade; confirm by slug)',
        description:
          '`{confirm: "<slug>"}` missing or different → 400 before anything happens. Then the delete cascade (reference §4.6) as a resumable step journal: ' +
          "`workspaces` (the org's CP-run workspaces), `tenant` (process, database, files), `rows` (the org's rows, its purge record and the audit event). " +
          'A step that fails keeps the org and its slug: 503 TENANT_DEPROVISION_FAILED; the next delete resumes where it stopped. ' +
          '409 PURGE_IN_PROGRESS while another delete of the org runs; 404 once the org is gone (callers treat it as done).',
        security: [{ cpAdmin: [] }],
        params: SlugParams,
        body: ConfirmSlugRequest,
        response: {
          200: TenantDeleted,
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'PURGE_IN_PROGRESS', 'TENANT_DEPROVISION_FAILED'),
        },
      },
    },
    async (request, reply) => {
      requireConfirmed(request.params.slug, request.body.confirm);
      const org = await requireOrg(ctx, request.params.slug);
      const steps = await purgeOrg(ctx, org, request.principal!.actor, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { slug: org.slug, deleted: true as const, steps };
    },
  );
}
