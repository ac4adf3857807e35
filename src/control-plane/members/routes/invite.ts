import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../../orgs/access.js';
import { SlugParams } from '../../orgs/schemas.js';
import { API_PREFIX } from '../../routes.js';
import { presentInvitation } from '../present.js';
import { Invitation, roleInput } from '../schemas.js';
import { createInvitation, MAX_PENDING_INVITATIONS } from '../service.js';

export const DEFAULT_INVITATION_HOURS = 168;
export const MAX_INVITATION_HOURS = 720;

export const CreateInvitationRequest = Type.Object(
  {
    email: Type.Optional(
      Type.String({
        format: 'email',
        maxLength: 254,
        'x-error': 'must be an email address',
        description: 'Binds the invitation to this email: only a user signed in with it can accept. Omit for an open invitation (whoever holds the token).',
      }),
    ),
    role: Type.Optional(roleInput('Default `member`. Only an owner may invite an owner.')),
    expires_in_hours: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_INVITATION_HOURS, 'x-error': `must be a whole number of hours from 1 to ${MAX_INVITATION_HOURS}`, description: `Default ${DEFAULT_INVITATION_HOURS} (7 days).` }),
    ),
  },
  { additionalProperties: false },
);
export type CreateInvitationRequest = Static<typeof CreateInvitationRequest>;

export const CreatedInvitation = Type.Object({
  ...Invitation.properties,
  invite_token: Type.String({ description: 'The one-time invite token (`moli_…`). Shown in this response only; the server keeps its hash.' }),
  accept_url: Type.String({ description: 'POST here, signed in as the invitee, with `{"token": "<invite_token>"}` in the JSON body (never in the URL).' }),
});
export type CreatedInvitation = Static<typeof CreatedInvitation>;

export default function inviteMemberRoute(app: App, ctx: ControlPlaneContext) {
  // The token travels in the accept request's body, so it never lands in URLs, browser history or access logs.
  const acceptUrl = `${ctx.publicUrl}${API_PREFIX}/invitations/accept`;
  app.post(
    '/orgs/:slug/members/invitations',
    {
      schema: {
        operationId: 'inviteMember',
        tags: ['members'],
        summary: 'Invite someone to the org: returns a one-time invite token (owners and admins)',
        description:
          'Hand `invite_token` to the invitee out of band; they accept with POST /api/v1/invitations/accept `{token}` while signed in. ' +
          'Only an owner may invite an owner. An email that already belongs to a member is 409 ALREADY_MEMBER; ' +
          `an org holds at most ${MAX_PENDING_INVITATIONS} pending invitations (409 INVITATION_LIMIT).`,
        security: [{ session: [] }],
        params: SlugParams,
        body: CreateInvitationRequest,
        response: {
          201: CreatedInvitation,
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'ALREADY_MEMBER', 'INVITATION_LIMIT'),
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal as SessionPrincipal;
      const org = await requireOrgRole(ctx, principal, request.params.slug, 'admin', 'invite members');
      const { email, role = 'member', expires_in_hours = DEFAULT_INVITATION_HOURS } = request.body;
      const { row, token } = await createInvitation(
        ctx,
        org,
        principal.userId,
        { email: email ?? null, role, expiresInHours: expires_in_hours },
        auditEventForReply(reply, 201),
      );
      request.auditWritten = true;
      // The plaintext invite token leaves the server here, once; CreatedInvitation is the only schema naming it.
      return reply.code(201).send({ ...presentInvitation(row, org.slug), invite_token: token, accept_url: acceptUrl });
    },
  );
}
