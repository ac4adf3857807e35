import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../../orgs/access.js';
import { presentMember } from '../present.js';
import { Member, MemberParams, roleInput } from '../schemas.js';
import { changeMemberRole } from '../service.js';

export const UpdateMemberRoleRequest = Type.Object({ role: roleInput('The new role.') }, { additionalProperties: false });
export type UpdateMemberRoleRequest = Static<typeof UpdateMemberRoleRequest>;

export default function updateMemberRoleRoute(app: App, ctx: ControlPlaneContext) {
  app.patch(
    '/orgs/:slug/members/:user_id',
    {
      schema: {
        operationId: 'updateMemberRole',
        tags: ['members'],
        summary: 'Change a member’s role (owners: any change; admins: between member and admin)',
        description:
          'An admin can neither change an owner’s role nor grant owner (403). Demoting the last owner is 409 LAST_OWNER. ' +
          'Demoting someone revokes the pending invitations they issued that their new role could not issue.',
        security: [{ session: [] }],
        params: MemberParams,
        body: UpdateMemberRoleRequest,
        response: {
          200: Member,
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'MEMBER_NOT_FOUND', 'LAST_OWNER'),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal as SessionPrincipal;
      const org = await requireOrgRole(ctx, principal, request.params.slug, 'admin', 'change member roles');
      const member = await changeMemberRole(ctx, org, principal.userId, request.params.user_id, request.body.role, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return presentMember(member);
    },
  );
}
