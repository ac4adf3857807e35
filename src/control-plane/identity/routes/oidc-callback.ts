import { Type, type Static } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { constantTimeEquals } from '../../../core/credentials/format.js';
import { readCookie } from '../../../core/http/cookies.js';
import { errorResponses } from '../../../core/http/responses.js';
import { DomainError, ValidationError } from '../../../core/errors.js';
import type { ControlPlaneContext } from '../../context.js';
import { OIDC_STATE_COOKIE, oidcStateCookie } from '../oidc.js';
import { signInWithOidc } from '../service.js';
import { Redirect } from './oidc-login.js';
import { Text } from '../../../core/http/input.js';

/** What the provider appends (RFC 6749 §4.1.2, RFC 9207 `iss`); providers may add more, which are passed on. */
export const OidcCallbackQuery = Type.Object({
  code: Type.Optional(Text({ maxLength: 4096 })),
  state: Type.Optional(Text({ maxLength: 512 })),
  iss: Type.Optional(Text({ maxLength: 2048 })),
  error: Type.Optional(Text({ maxLength: 256 })),
  error_description: Type.Optional(Text({ maxLength: 4096 })),
});
export type OidcCallbackQuery = Static<typeof OidcCallbackQuery>;

const STATE_UNUSABLE = 'sign-in state is unknown, expired or already used; start the sign-in again';

/** The provider's error code only if it looks like one (RFC 6749 codes are short ASCII words); never its free text. */
function providerErrorCode(error: string): string {
  return /^[a-z0-9_.-]{1,64}$/i.test(error) ? error : 'unknown_error';
}

export default function oidcCallbackRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/auth/callback',
    {
      schema: {
        operationId: 'oidcCallback',
        tags: ['auth'],
        summary: 'OpenID Connect callback: finish the sign-in',
        description:
          'The provider redirects the browser here. The login state is consumed once (a replay is refused), the code is exchanged with the PKCE ' +
          'verifier and the ID token validated; then the user is found by the identity, or linked by an email the provider has verified, or ' +
          'created. Sets the `mcp_session` cookie and redirects (302) to the sign-in’s `return_to`, or to the site root. ' +
          '400 for an unknown, expired or replayed state or when the provider reports an error; 502 when the code exchange or the token fails.',
        querystring: OidcCallbackQuery,
        response: {
          302: Redirect,
          ...errorResponses('VALIDATION_FAILED', 'IDENTITY_PROVIDER_DENIED', 'IDENTITY_PROVIDER_NOT_FOUND', 'EMAIL_TAKEN', 'IDENTITY_PROVIDER_FAILED', 'platform_unavailable'),
        },
      },
    },
    async (request, reply) => {
      const { oidc } = ctx;
      if (!oidc) throw new DomainError('IDENTITY_PROVIDER_NOT_FOUND', 'identity provider not configured: OpenID Connect sign-in is not enabled');
      const { state, code, error } = request.query;
      if (!state) {
        if (error) throw providerDenied(error);
        throw new ValidationError('state is required', { fields: ['state'], field: 'state' });
      }
      // Only the browser that began this sign-in may finish it (see OIDC_STATE_COOKIE). The cookie is cleared only
      // by the callback it binds, so a forged callback link cannot cancel a sign-in in progress.
      const bound = readCookie(request.headers.cookie, OIDC_STATE_COOKIE);
      if (!bound || !constantTimeEquals(state, bound)) {
        throw new ValidationError(`${STATE_UNUSABLE} in this browser`, { fields: ['state'], field: 'state' });
      }
      reply.header('set-cookie', oidcStateCookie(ctx.publicUrl, '', 0));
      const pending = await oidc.takeState(state);
      if (!pending) throw new ValidationError(STATE_UNUSABLE, { fields: ['state'], field: 'state' });
      if (error) throw providerDenied(error);
      // The state belongs to the prefix the login began on; the code is bound to that redirect URI.
      if (!new URL(pending.redirectUri).pathname.endsWith(request.routeOptions.url ?? '/auth/callback')) {
        throw new ValidationError(`${STATE_UNUSABLE} (it was issued for ${new URL(pending.redirectUri).pathname})`, { fields: ['state'], field: 'state' });
      }
      if (!code) throw new ValidationError('code is required', { fields: ['code'], field: 'code' });

      const identity = await oidc.complete(pending, new URL(request.url, ctx.publicUrl).searchParams);
      await signInWithOidc(ctx, request, reply, identity);
      return reply.redirect(new URL(pending.returnTo ?? '/', `${ctx.publicUrl}/`).href, 302);
    },
  );
}

function providerDenied(error: string): DomainError {
  const code = providerErrorCode(error);
  const message =
    code === 'access_denied'
      ? 'the sign-in was cancelled or refused at the identity provider'
      : `the identity provider did not complete the sign-in (${code}); start the sign-in again`;
  return new DomainError('IDENTITY_PROVIDER_DENIED', message, { provider_error: code });
}
