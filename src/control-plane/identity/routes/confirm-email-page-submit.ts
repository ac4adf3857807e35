import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { paragraph, sendPage } from '../../billing/html.js';
import { assertSameSiteForm } from '../../billing/pages.js';
import type { ControlPlaneContext } from '../../context.js';
import { verifyEmail } from '../verification.js';
import { linkPagePrincipal, ConfirmEmailPageQuery } from './confirm-email-page.js';

/** The link page's form (posted to the link's own URL): the same service call as POST /api/v1/auth/verify-email. */
export default function confirmEmailPageSubmitRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/confirm-email',
    {
      schema: {
        hide: true,
        operationId: 'confirmEmailPageSubmit',
        tags: ['auth'],
        summary: 'HTML form: verify the signed-in user’s email address',
        querystring: ConfirmEmailPageQuery,
        body: Type.Object({}, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const principal = await linkPagePrincipal(ctx, request, reply);
      if (!principal) return reply;
      assertSameSiteForm(ctx, request);
      const { email } = await verifyEmail(ctx, principal.userId, request.query.token, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return sendPage(reply, ctx, 200, 'Email address verified', paragraph(`${email} is verified. Invitations sent to it can now be accepted.`));
    },
  );
}
