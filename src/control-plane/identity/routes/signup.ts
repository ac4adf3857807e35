import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import { isUniqueViolation } from '../../../core/db/index.js';
import { DomainError } from '../../../core/errors.js';
import { hashPassword } from '../../auth/passwords.js';
import type { ControlPlaneContext } from '../../context.js';
import { DisplayName, Email, Password, SignedIn } from '../schemas.js';
import { startSession } from '../service.js';
import { insertUser } from '../store.js';
import { issueEmailVerification, sendEmailVerification } from '../verification.js';

export const SignupRequest = Type.Object({ email: Email, password: Password, name: Type.Optional(DisplayName) }, { additionalProperties: false });
export type SignupRequest = Static<typeof SignupRequest>;

export default function signupRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/signup',
    {
      schema: {
        operationId: 'signup',
        tags: ['auth'],
        summary: 'Create a local account and sign in',
        description:
          'Stores a scrypt hash of the password, never the password. Sets the `mcp_session` cookie. Rate-limited per client. ' +
          'The address starts unverified (`email_verified: false`): a verification link is sent to it (MAIL_TRANSPORT=log: written to the server log).',
        body: SignupRequest,
        response: { 201: SignedIn, ...errorResponses('VALIDATION_FAILED', 'EMAIL_TAKEN', 'RATE_LIMITED', 'platform_unavailable') },
      },
    },
    async (request, reply) => {
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-signup:${request.ip}`, ctx.config.SIGNUP_LIMIT, 3600_000);
      const { email, password, name } = request.body;
      const passwordHash = await hashPassword(password, ctx.config.PASSWORD_HASH_COST);
      try {
        const { body, link } = await ctx.db.transaction().execute(async (tx) => {
          const user = await insertUser(tx, { email, name: name ?? null, passwordHash });
          const issued = await issueEmailVerification(tx, ctx, user);
          return { body: await startSession(tx, ctx, request, reply, user, 201), link: issued };
        });
        // The account exists whatever the mail transport does; a link that did not go out can be asked for again.
        await sendEmailVerification(ctx, link).catch((err: unknown) => request.log.warn({ err }, 'the verification link could not be sent; the user can request another'));
        return reply.code(201).send(body);
      } catch (err) {
        if (isUniqueViolation(err)) throw new DomainError('EMAIL_TAKEN');
        throw err;
      }
    },
  );
}
