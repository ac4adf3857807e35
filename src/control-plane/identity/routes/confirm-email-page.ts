import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import { escapeHtml, paragraph, sendPage } from '../../billing/html.js';
import type { ControlPlaneContext } from '../../context.js';
import { API_PREFIX } from '../../routes.js';
import { checkEmailVerification } from '../verification.js';
import { VerificationToken } from './verify-email.js';

export const ConfirmEmailPageQuery = Type.Object({ token: VerificationToken });
export type ConfirmEmailPageQuery = Static<typeof ConfirmEmailPageQuery>;

/**
 * The signed-in user, set as the request's principal (so the request is audited); null after answering the
 * sign-in page. That page is our own rather than the shared SESSION_REQUIRED page: the shared one links back to
 * this URL through the sign-in, which would carry the token into the OpenID sign-in state and this page's HTML.
 */
export async function linkPagePrincipal(ctx: ControlPlaneContext, request: FastifyRequest, reply: FastifyReply): Promise<SessionPrincipal | null> {
  const principal = await ctx.auth.sessionOf(request);
  if (principal) {
    request.principal = principal;
    return principal;
  }
  const signIn = ctx.oidc ? `<p><a href="${escapeHtml(`${API_PREFIX}/auth/login`)}">Sign in</a></p>` : '';
  await sendPage(
    reply,
    ctx,
    401,
    'Sign in required',
    paragraph('Sign in to Molecule in this browser as the account this link was sent to, then open the link again.', 'error') + signIn,
  );
  return null;
}

/**
 * GET of a verification link: a page with a confirm button and nothing else. It changes nothing, so a mail scanner
 * or link preview fetching it verifies nobody; the form has no action, so it posts back to this very URL and the
 * token is never repeated in the page.
 */
export default function confirmEmailPageRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/auth/confirm-email',
    {
      schema: {
        hide: true,
        operationId: 'confirmEmailPage',
        tags: ['auth'],
        summary: 'HTML: confirm an email verification link',
        querystring: ConfirmEmailPageQuery,
      },
    },
    async (request, reply) => {
      const principal = await linkPagePrincipal(ctx, request, reply);
      if (!principal) return reply;
      const { email } = await checkEmailVerification(ctx, principal.userId, request.query.token);
      const body =
        paragraph(`Confirm that ${email} is your email address. Invitations sent to it can be accepted once it is verified.`) +
        '<form method="post"><button class="primary" type="submit">Verify my email address</button></form>';
      return sendPage(reply, ctx, 200, 'Verify your email address', body);
    },
  );
}
