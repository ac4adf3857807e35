import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { enforceRateLimit } from '../../../core/http/rate-limit.js';
import { errorResponses } from '../../../core/http/responses.js';
import { DomainError, ValidationError } from '../../../core/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { OIDC_STATE_TTL_SECONDS, oidcStateCookie } from '../oidc.js';
import { safeReturnTo } from '../return-to.js';
import { ReturnTo } from '../schemas.js';
import { Text } from '../../../core/http/input.js';

export const OidcBeginQuery = Type.Object({
  provider: Type.Optional(Text({ maxLength: 64, description: 'The identity provider (OIDC_PROVIDER_NAME); default: the configured one.' })),
  return_to: Type.Optional({ ...ReturnTo, description: 'Where to land after sign-in: a path on this site, or a URL on it or on a tenant host with the same scheme.' }),
});
export type OidcBeginQuery = Static<typeof OidcBeginQuery>;

export const Redirect = Type.Null({ description: 'Redirect; the target is in the Location header.' });

/**
 * Each begun sign-in stores a row for ten minutes, so one client may begin this many per minute (600 rows at most)
 * before it is slowed down; far above what a person clicking "sign in" needs.
 */
const BEGIN_LIMIT_PER_MINUTE = 60;

type Screen = 'login' | 'signup';

function beginRoute(screen: Screen) {
  return function register(app: App, ctx: ControlPlaneContext) {
    app.get(
      `/auth/${screen}`,
      {
        schema: {
          operationId: screen === 'login' ? 'beginOidcLogin' : 'beginOidcSignup',
          tags: ['auth'],
          summary: screen === 'login' ? 'Sign in with the OpenID Connect provider' : 'Sign up with the OpenID Connect provider',
          description:
            'Redirects (302) to the provider’s authorization endpoint: authorization code flow with PKCE (S256), `state` and `nonce`. ' +
            (screen === 'signup' ? 'Asks for the provider’s sign-up screen (`prompt=create`) when it advertises one. ' : '') +
            'The provider sends the browser back to `/auth/callback`, which sets the `mcp_session` cookie and redirects to `return_to`. ' +
            'An unsafe `return_to` (another site, a scheme change, `//host`) is refused with 400 and never redirected to. ' +
            '404 when no provider of that name is configured. `POST` on the same path is password ' +
            (screen === 'login' ? 'sign-in.' : 'sign-up.'),
          querystring: OidcBeginQuery,
          response: {
            302: Redirect,
            ...errorResponses('VALIDATION_FAILED', 'IDENTITY_PROVIDER_NOT_FOUND', 'RATE_LIMITED', 'IDENTITY_PROVIDER_FAILED', 'platform_unavailable'),
          },
        },
      },
      async (request, reply) => {
        const { oidc } = ctx;
        const provider = request.query.provider ?? oidc?.provider;
        if (!oidc || provider !== oidc.provider) {
          throw new DomainError('IDENTITY_PROVIDER_NOT_FOUND', `identity provider not configured: ${oidc ? provider : 'OpenID Connect sign-in is not enabled'}`);
        }
        // An empty `return_to=` means "none"; anything else must be same-site (reference §2.1, check 53).
        let returnTo: string | null = null;
        if (request.query.return_to) {
          returnTo = safeReturnTo(request.query.return_to, ctx.publicUrl, ctx.config.TENANT_DOMAIN);
          if (!returnTo) {
            throw new ValidationError('return_to must be a path on this site, or a URL on this site or on a tenant host with the same scheme', {
              fields: ['return_to'],
              field: 'return_to',
            });
          }
        }
        await enforceRateLimit(reply, ctx.rateLimiter, `cp-oidc-begin:${request.ip}`, BEGIN_LIMIT_PER_MINUTE, 60_000);
        // The provider must send the browser back under the prefix the login began on (`/api/v1` or `/cp`).
        const callbackPath = (request.routeOptions.url ?? '').replace(/\/auth\/(login|signup)$/, '/auth/callback');
        const begun = await oidc.begin({ redirectUri: `${ctx.publicUrl}${callbackPath}`, returnTo, signup: screen === 'signup' });
        reply.header('set-cookie', oidcStateCookie(ctx.publicUrl, begun.state, OIDC_STATE_TTL_SECONDS));
        return reply.redirect(begun.authorizationUrl.href, 302);
      },
    );
  };
}

/** GET /auth/login: the reference's AuthKit sign-in, here any OpenID Connect provider. */
const oidcLoginRoute = beginRoute('login');
export default oidcLoginRoute;

/** GET /auth/signup: the same flow with the provider's sign-up screen. */
export const oidcSignupRoute = beginRoute('signup');
