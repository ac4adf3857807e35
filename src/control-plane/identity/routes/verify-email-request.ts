import { Type, type Static } from 'typebox';
import { appendAuditEvents } from '../../../core/audit/chain.js';
import { auditEventForReply } from '../../../core/audit/request.js';
import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { issueEmailVerification, sendEmailVerification } from '../verification.js';
import { SESSION_ERRORS } from './me.js';

export const VerificationSent = Type.Object({
  email: Type.String({ description: 'The address the link was sent to (the account’s current one).' }),
  expires_at: Type.String({ format: 'date-time', description: 'When the link stops working (EMAIL_VERIFICATION_TTL_HOURS).' }),
});
export type VerificationSent = Static<typeof VerificationSent>;

const REQUEST_WINDOW_MS = 3600_000;

export default function requestEmailVerificationRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/verify-email/request',
    {
      schema: {
        operationId: 'requestEmailVerification',
        tags: ['auth'],
        summary: 'Send a new email verification link',
        description:
          'Sends a fresh link to the signed-in user’s address (without a mail transport, MAIL_TRANSPORT=log, the link is written to the ' +
          'server log for the operator to pass on); earlier links stop working. The link never appears in a response. ' +
          '409 EMAIL_ALREADY_VERIFIED once the address is verified; EMAIL_VERIFICATION_REQUEST_LIMIT per hour per user.',
        security: [{ session: [] }],
        body: Type.Object({}, { additionalProperties: false }),
        response: {
          202: VerificationSent,
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'EMAIL_ALREADY_VERIFIED', 'RATE_LIMITED'),
        },
      },
    },
    async (request, reply) => {
      const { session } = request.principal as SessionPrincipal;
      if (session.emailVerified) throw new DomainError('EMAIL_ALREADY_VERIFIED', `${session.email} is already verified`, { email: session.email });
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-verify-email:${session.userId}`, ctx.config.EMAIL_VERIFICATION_REQUEST_LIMIT, REQUEST_WINDOW_MS);
      const issued = await ctx.db.transaction().execute(async (tx) => {
        const link = await issueEmailVerification(tx, ctx, { id: session.userId, email: session.email });
        await appendAuditEvents(tx, [auditEventForReply(reply, 202)]);
        return link;
      });
      request.auditWritten = true;
      await sendEmailVerification(ctx, issued);
      return reply.code(202).send({ email: issued.email, expires_at: issued.expiresAt.toISOString() });
    },
  );
}
