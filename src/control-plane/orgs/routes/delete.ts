import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { requireOrgRole } from '../access.js';
import { SlugParams } from '../schemas.js';
import { purgeOrg } from '../service.js';

export default function deleteOrgRoute(app: App, ctx: ControlPlaneContext) {
  app.delete(
    '/orgs/:slug',
    {
      schema: {
        operationId: 'deleteOrg',
        tags: ['orgs'],
        summary: 'Delete an org and everything it holds (owners only; irreversible)',
        description:
          'With a partner key (scope `orgs:delete`): one of its partner’s orgs; any other org is 404. ' +
          'Stops the org’s workspaces and tenant, then removes its members, invitations, billing records and instance; a purge record and the audit event remain. 204. ' +
          'If the workspaces or the tenant cannot be stopped, nothing is deleted: 503 TENANT_DEPROVISION_FAILED (retry: the delete resumes where it stopped). ' +
          'A delete of the same org already running → 409 PURGE_IN_PROGRESS. The slug is then held for SLUG_TOMBSTONE_DAYS before a new org may take it. ' +
          'The same cascade as DELETE /admin/tenants/{slug}.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: SlugParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'PURGE_IN_PROGRESS', 'TENANT_DEPROVISION_FAILED') },
      },
      config: { partnerScope: 'orgs:delete' },
    },
    async (request, reply) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'owner', 'delete the org');
      await purgeOrg(ctx, org, request.principal!.actor, auditEventForReply(reply, 204));
      request.auditWritten = true;
      return reply.code(204).send(null);
    },
  );
}
