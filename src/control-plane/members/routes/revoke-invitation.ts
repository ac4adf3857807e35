import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../../orgs/access.js';
import { InvitationParams } from '../schemas.js';
import { revokePendingInvitation } from '../service.js';

export default function revokeInvitationRoute(app: App, ctx: ControlPlaneContext) {
  app.delete(
    '/orgs/:slug/members/invitations/:id',
    {
      schema: {
        operationId: 'revokeInvitation',
        tags: ['members'],
        summary: 'Revoke a pending invitation (owners and admins)',
        description: 'Its token stops working at once. An unknown id, another org’s invitation, or one already accepted, revoked or expired is 404.',
        security: [{ session: [] }],
        params: InvitationParams,
        response: {
          200: Type.Object({ revoked: Type.String({ description: 'The revoked invitation’s id.' }) }),
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'INVITATION_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal as SessionPrincipal;
      const org = await requireOrgRole(ctx, principal, request.params.slug, 'admin', 'revoke invitations');
      await revokePendingInvitation(ctx, org, principal.userId, request.params.id, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { revoked: request.params.id };
    },
  );
}
