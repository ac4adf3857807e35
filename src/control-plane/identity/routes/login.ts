import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import { DomainError } from '../../../core/errors.js';
import { burnPasswordCheck, verifyPassword } from '../../auth/passwords.js';
import type { ControlPlaneContext } from '../../context.js';
import { Email, SignedIn } from '../schemas.js';
import { startSession } from '../service.js';
import { findUserByEmail, normalizeEmail } from '../store.js';
import { Text } from '../../../core/http/input.js';

export const LoginRequest = Type.Object(
  {
    email: Email,
    // Any length is checked against the hash (an old account may predate today's rules), within the work cap.
    password: Text({ minLength: 1, maxLength: 256 }),
    name: Type.Optional(Text({ maxLength: 100, description: 'Accepted for symmetry with signup; ignored.' })),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;

/** Attempts per client and email, per window: slows guessing without letting one client lock out another's account. */
const LOGIN_WINDOW_MS = 15 * 60_000;

export default function loginRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/login',
    {
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: 'Sign in with email and password',
        description:
          'Sets the `mcp_session` cookie. Unknown email and wrong password get the same answer in the same time. Rate-limited per client and email (LOGIN_ATTEMPT_LIMIT per 15 minutes) and per client address (LOGIN_ADDRESS_LIMIT).',
        body: LoginRequest,
        response: { 200: SignedIn, ...errorResponses('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'RATE_LIMITED', 'platform_unavailable') },
      },
    },
    async (request, reply) => {
      const email = normalizeEmail(request.body.email);
      // Per address too, whatever the email: spraying one password across many accounts is limited as well.
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-login-addr:${request.ip}`, ctx.config.LOGIN_ADDRESS_LIMIT, LOGIN_WINDOW_MS);
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-login:${request.ip}:${email}`, ctx.config.LOGIN_ATTEMPT_LIMIT, LOGIN_WINDOW_MS);
      const user = await findUserByEmail(ctx.db, email);
      const ok = user?.password_hash
        ? await verifyPassword(request.body.password, user.password_hash)
        : await burnPasswordCheck(request.body.password, ctx.config.PASSWORD_HASH_COST);
      if (!ok || !user) throw new DomainError('INVALID_CREDENTIALS');
      return ctx.db.transaction().execute((tx) => startSession(tx, ctx, request, reply, user, 200));
    },
  );
}
