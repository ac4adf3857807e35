import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../../orgs/access.js';
import { MemberParams } from '../schemas.js';
import { removeMember } from '../service.js';

export default function removeMemberRoute(app: App, ctx: ControlPlaneContext) {
  app.delete(
    '/orgs/:slug/members/:user_id',
    {
      schema: {
        operationId: 'removeMember',
        tags: ['members'],
        summary: 'Remove a member, or leave the org (your own user_id)',
        description:
          'Owners remove anyone; admins remove admins and members, never an owner; every member may remove themselves. ' +
          'The last owner can neither leave nor be removed (409 LAST_OWNER). Access ends at once: the org answers 404 to them and ' +
          '/api/v1/auth/tenant-member says `member:false`. Their pending invitations are revoked. 204.',
        security: [{ session: [] }],
        params: MemberParams,
        response: {
          204: Type.Null({ description: 'Removed.' }),
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'MEMBER_NOT_FOUND', 'LAST_OWNER'),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal as SessionPrincipal;
      const org = await requireOrgRole(ctx, principal, request.params.slug, 'member', 'remove members');
      await removeMember(ctx, org, principal.userId, request.params.user_id, auditEventForReply(reply, 204));
      request.auditWritten = true;
      return reply.code(204).send(null);
    },
  );
}
