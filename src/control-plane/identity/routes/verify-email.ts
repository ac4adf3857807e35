import { Text } from '../../../core/http/input.js';
import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { verifyEmail } from '../verification.js';
import { SESSION_ERRORS } from './me.js';

/** The token is long enough to be any credential; a malformed one is simply an unusable link. */
export const VerificationToken = Text({
  minLength: 1,
  maxLength: 256,
  'x-error': 'must be the verification token (molv_…)',
  description: 'The `token` parameter of the verification link (`molv_…`).',
});

export const VerifyEmailRequest = Type.Object({ token: VerificationToken }, { additionalProperties: false });
export type VerifyEmailRequest = Static<typeof VerifyEmailRequest>;

export const EmailVerified = Type.Object({ user_id: Type.String(), email: Type.String(), email_verified: Type.Literal(true) });
export type EmailVerified = Static<typeof EmailVerified>;

export default function verifyEmailRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/verify-email',
    {
      schema: {
        operationId: 'verifyEmail',
        tags: ['auth'],
        summary: 'Verify the signed-in user’s email address with the token of a verification link',
        description:
          'The token goes in the JSON body (the link itself leads to the confirmation page `GET /auth/confirm-email?token=`, outside the API). ' +
          'A token works once, until it expires, only for the account it was issued to and only while that account still has the address ' +
          'it was issued for; every other case — malformed, unknown, expired, used, another account’s, an old address — is the same ' +
          '400 EMAIL_VERIFICATION_INVALID and changes nothing for anyone else.',
        security: [{ session: [] }],
        body: VerifyEmailRequest,
        response: { 200: EmailVerified, ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'EMAIL_VERIFICATION_INVALID') },
      },
    },
    async (request, reply) => {
      const { session } = request.principal as SessionPrincipal;
      const { email } = await verifyEmail(ctx, session.userId, request.body.token, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { user_id: session.userId, email, email_verified: true as const };
    },
  );
}
