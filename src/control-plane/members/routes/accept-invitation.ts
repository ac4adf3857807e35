import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { presentOrg } from '../../orgs/present.js';
import { MemberRoleSchema, Organization } from '../../orgs/schemas.js';
import { acceptInvitation } from '../service.js';
import { Text } from '../../../core/http/input.js';

export const AcceptInvitationRequest = Type.Object(
  {
    token: Text({ minLength: 1, maxLength: 256, 'x-error': 'must be the invite token (moli_…)', description: 'The `invite_token` from the invitation (`moli_…`).' }),
  },
  { additionalProperties: false },
);
export type AcceptInvitationRequest = Static<typeof AcceptInvitationRequest>;

export const AcceptedInvitation = Type.Object({ organization: Organization, role: MemberRoleSchema });
export type AcceptedInvitation = Static<typeof AcceptedInvitation>;

export default function acceptInvitationRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/invitations/accept',
    {
      schema: {
        operationId: 'acceptInvitation',
        tags: ['members'],
        summary: 'Join an org with an invite token (any signed-in user)',
        description:
          'The token goes in the JSON body, never in the URL. Each token works once. A malformed, unknown, expired, revoked or already used token, ' +
          'and an invitation bound to another email, all answer the same 404 INVITATION_NOT_FOUND. ' +
          'An invitation bound to the user’s own email needs that address verified (`email_verified` in GET /auth/me): otherwise 403 EMAIL_NOT_VERIFIED and the invitation is left unused. ' +
          'A user who is already a member gets 409 ALREADY_MEMBER and the invitation is left unused, still valid for someone else.',
        security: [{ session: [] }],
        body: AcceptInvitationRequest,
        response: {
          200: AcceptedInvitation,
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'INVITATION_NOT_FOUND', 'EMAIL_NOT_VERIFIED', 'ALREADY_MEMBER'),
        },
      },
    },
    async (request, reply) => {
      const { session } = request.principal as SessionPrincipal;
      const { org, role } = await acceptInvitation(ctx, { userId: session.userId, email: session.email, emailVerified: session.emailVerified }, request.body.token, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { organization: presentOrg(org, role), role };
    },
  );
}
