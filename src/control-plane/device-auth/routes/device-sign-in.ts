import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { ERROR_CODES } from '../../../core/errors.js';
import { burnPasswordCheck, verifyPassword } from '../../auth/passwords.js';
import { sendPage } from '../../billing/html.js';
import type { ControlPlaneContext } from '../../context.js';
import { Email } from '../../identity/schemas.js';
import { startSession } from '../../identity/service.js';
import { findUserByEmail, normalizeEmail } from '../../identity/store.js';
import { displayUserCode, normalizeUserCode } from '../codes.js';
import { assertDeviceFormOrigin, signInBody, SIGN_IN_TITLE } from '../pages.js';
import { DEVICE_FORM_PATH } from '../service.js';

export const DeviceSignInForm = Type.Object(
  {
    email: Email,
    password: Text({ minLength: 1, maxLength: 256 }),
    user_code: Type.Optional(Text({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type DeviceSignInForm = Static<typeof DeviceSignInForm>;

/** The same windows and keys as POST /auth/login: one budget of password guesses, whichever form they come through. */
const LOGIN_WINDOW_MS = 15 * 60_000;

/**
 * The approval page's sign-in form: the local password sign-in of POST /auth/login (same checks, same limits, same
 * answer for an unknown email and a wrong password), as a form; success sets the cookie and 303s back to the page with
 * the code. Login CSRF is refused like the decision form's (assertDeviceFormOrigin).
 */
export default function deviceSignInRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/device/sign-in',
    {
      schema: {
        hide: true,
        operationId: 'devicePageSignIn',
        tags: ['auth'],
        summary: 'HTML form: sign in on the device approval page',
        body: DeviceSignInForm,
      },
    },
    async (request, reply) => {
      assertDeviceFormOrigin(ctx, request);
      const normalized = request.body.user_code ? normalizeUserCode(request.body.user_code) : null;
      const userCode = normalized && displayUserCode(normalized);
      const email = normalizeEmail(request.body.email);
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-login-addr:${request.ip}`, ctx.config.LOGIN_ADDRESS_LIMIT, LOGIN_WINDOW_MS);
      await enforceRateLimit(reply, ctx.rateLimiter, `cp-login:${request.ip}:${email}`, ctx.config.LOGIN_ATTEMPT_LIMIT, LOGIN_WINDOW_MS);
      const user = await findUserByEmail(ctx.db, email);
      const ok = user?.password_hash
        ? await verifyPassword(request.body.password, user.password_hash)
        : await burnPasswordCheck(request.body.password, ctx.config.PASSWORD_HASH_COST);
      if (!ok || !user) return sendPage(reply, ctx, 401, SIGN_IN_TITLE, signInBody(ctx, userCode, ERROR_CODES.INVALID_CREDENTIALS.message));
      await ctx.db.transaction().execute((tx) => startSession(tx, ctx, request, reply, user, 303));
      return reply.redirect(userCode ? `${DEVICE_FORM_PATH}?user_code=${encodeURIComponent(userCode)}` : DEVICE_FORM_PATH, 303);
    },
  );
}
