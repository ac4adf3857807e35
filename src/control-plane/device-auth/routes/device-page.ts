import { Type, type Static } from 'typebox';
import { ERROR_CODES } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { Text } from '../../../core/http/input.js';
import { sendPage } from '../../billing/html.js';
import type { ControlPlaneContext } from '../../context.js';
import { listOrgsOfUser } from '../../orgs/store.js';
import { displayUserCode, hashUserCode, normalizeUserCode } from '../codes.js';
import { APPROVE_TITLE, approvalBody, codeEntryBody, signInBody, SIGN_IN_TITLE } from '../pages.js';
import { DEVICE_FORM_PATH, limitCodeGuessing } from '../service.js';
import { findPendingByUserCode } from '../store.js';

/** Lenient on purpose: a mistyped code gets the form back with a message, not a bare validation page. */
export const DevicePageQuery = Type.Object({ user_code: Type.Optional(Text({ maxLength: 32, description: 'The code the device shows (`verification_uri_complete` fills it in).' })) });
export type DevicePageQuery = Static<typeof DevicePageQuery>;

/**
 * The no-JS approval page (RFC 8628 §3.3; the console's `/device` is the primary one): without a session, the sign-in form (401); signed in, the code field, or — for a
 * live code — what asks, when and from where, the user's orgs to pick from, and Approve / Deny. Looking a code up
 * counts against the guessing limit, since the page reveals whether a code is live.
 */
export default function devicePageRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    DEVICE_FORM_PATH,
    {
      schema: {
        hide: true,
        operationId: 'devicePage',
        tags: ['auth'],
        summary: 'HTML: approve or deny a device authorization',
        querystring: DevicePageQuery,
      },
    },
    async (request, reply) => {
      const typed = request.query.user_code?.trim() || null;
      const normalized = typed === null ? null : normalizeUserCode(typed);
      const principal = await ctx.auth.sessionOf(request);
      if (!principal) return sendPage(reply, ctx, 401, SIGN_IN_TITLE, signInBody(ctx, normalized && displayUserCode(normalized)));
      request.principal = principal;
      if (typed === null) return sendPage(reply, ctx, 200, APPROVE_TITLE, codeEntryBody(null));
      if (normalized === null) return sendPage(reply, ctx, 400, APPROVE_TITLE, codeEntryBody(typed, ERROR_CODES.DEVICE_USER_CODE_INVALID.message));
      await limitCodeGuessing(ctx, request, reply, principal.userId);
      const userCode = displayUserCode(normalized);
      const pending = await findPendingByUserCode(ctx.db, hashUserCode(normalized), new Date());
      if (!pending) return sendPage(reply, ctx, 400, APPROVE_TITLE, codeEntryBody(userCode, ERROR_CODES.DEVICE_USER_CODE_INVALID.message));
      const orgs = await listOrgsOfUser(ctx.db, principal.userId);
      return sendPage(reply, ctx, 200, APPROVE_TITLE, approvalBody(pending, userCode, principal.session.email, orgs));
    },
  );
}
