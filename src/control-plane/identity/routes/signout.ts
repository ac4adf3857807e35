import { Type } from 'typebox';
import { appendAuditEvents } from '../../../core/audit/chain.js';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import { clearedSessionCookie, revokeSession } from '../../auth/sessions.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from './me.js';

export default function signoutRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/signout',
    {
      schema: {
        operationId: 'signout',
        tags: ['auth'],
        summary: 'Sign out',
        description: 'Revokes the session (the cookie value stops working at once, everywhere) and clears the cookie. `logout_url` is empty for local accounts.',
        security: [{ session: [] }],
        response: { 200: Type.Object({ ok: Type.Literal(true), logout_url: Type.String() }), ...errorResponses(...SESSION_ERRORS, 'ORIGIN_FORBIDDEN') },
      },
    },
    async (request, reply) => {
      const principal = request.principal as SessionPrincipal;
      await ctx.db.transaction().execute(async (tx) => {
        await revokeSession(tx, principal.session.sessionId);
        await appendAuditEvents(tx, [auditEventForReply(reply, 200)]);
      });
      request.auditWritten = true;
      reply.header('set-cookie', clearedSessionCookie(ctx.config));
      return { ok: true as const, logout_url: '' };
    },
  );
}
