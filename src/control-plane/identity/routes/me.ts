import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { CurrentUser } from '../schemas.js';

export const SESSION_ERRORS = ['SESSION_REQUIRED', 'TENANT_CREDENTIAL_REJECTED', 'PARTNER_KEY_NOT_ACCEPTED', 'platform_unavailable'] as const;

export default function meRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/auth/me',
    {
      schema: {
        operationId: 'getCurrentUser',
        tags: ['auth'],
        summary: 'The signed-in user',
        description: '401 when anonymous (the reference console treats that as "signed out").',
        security: [{ session: [] }],
        response: {
          200: Type.Object({ ...CurrentUser.properties, terms_accepted: Type.Boolean() }),
          ...errorResponses(...SESSION_ERRORS),
        },
      },
    },
    async (request) => {
      const { session } = request.principal as SessionPrincipal;
      return {
        user_id: session.userId,
        email: session.email,
        name: session.name,
        email_verified: session.emailVerified,
        terms_accepted: session.termsVersion === ctx.config.TERMS_VERSION,
      };
    },
  );
}
