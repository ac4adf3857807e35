import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { isDatastoreOutage } from '../../core/db/index.js';
import { DomainError, ERROR_CODES, ValidationError } from '../../core/errors.js';
import { describeValidationErrors, type App } from '../../core/http/app.js';
import type { SessionPrincipal } from '../auth/authenticator.js';
import { originAllowed } from '../auth/hooks.js';
import type { ControlPlaneContext } from '../context.js';
import { API_PREFIX, type ControlPlaneRouteRegistrar } from '../routes.js';
import { escapeHtml, paragraph, sendPage } from './html.js';
import { Text } from '../../core/http/input.js';

/** A form is a handful of short fields. */
export const FORM_BODY_LIMIT = 4096;

/**
 * `a=1&b=2` → `{a: '1', b: '2'}`. A repeated field is refused rather than guessed at; Object.fromEntries defines
 * own properties, so a `__proto__` field is just an unknown field for the schema to reject.
 */
export function parseForm(text: string): Record<string, string> {
  const fields = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) {
    if (fields.has(key)) throw new ValidationError(`form field "${key}" was sent more than once`, { field: key, fields: [key] });
    fields.set(key, value);
  }
  return Object.fromEntries(fields);
}

/** Page params: any short id; one that is malformed is simply not found. */
export const PageParams = Type.Object({ id: Text({ minLength: 1, maxLength: 64 }) });

/** The signed-in user, set as the request's principal so the request is audited; none → the sign-in page (401). */
export async function pagePrincipal(ctx: ControlPlaneContext, request: FastifyRequest): Promise<SessionPrincipal> {
  const principal = await ctx.auth.sessionOf(request);
  if (!principal) throw new DomainError('SESSION_REQUIRED', 'sign in to Molecule in this browser, then reload this page');
  request.principal = principal;
  return principal;
}

/** A form post must come from a page of ours or of a tenant, as for any cookie-authenticated write. */
export function assertSameSiteForm(ctx: ControlPlaneContext, request: FastifyRequest): void {
  if (!originAllowed(request.headers.origin, ctx.publicUrl, ctx.config.TENANT_DOMAIN)) {
    throw new DomainError('ORIGIN_FORBIDDEN', `cross-site form refused: origin ${request.headers.origin} is not allowed`);
  }
}

/**
 * Browser pages of ours (tier `pages`: no API prefix) live in a scope of their own, so the HTML form parser and the
 * HTML error pages apply to them and to nothing else. Each page authenticates the session cookie itself and refuses
 * a cross-site form post, as the session tier does for the API.
 */
export function pageScope(routes: ControlPlaneRouteRegistrar[]): ControlPlaneRouteRegistrar {
  return (app, ctx) => {
    void app.register(async (scope) => {
      // Forms only (and JSON, which every scope parses): a text/plain body is 415 here, not a string to validate.
      scope.removeContentTypeParser('text/plain');
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, raw, done) => {
        try {
          done(null, parseForm(typeof raw === 'string' ? raw : raw.toString('utf8')));
        } catch (err) {
          done(err as Error, undefined);
        }
      });
      scope.setErrorHandler((err: FastifyError | Error, request, reply) => renderPageError(ctx, err, request, reply));
      for (const register of routes) register(scope as unknown as App, ctx);
    });
  };
}

const TITLES: Partial<Record<string, string>> = {
  SESSION_REQUIRED: 'Sign in required',
  ORIGIN_FORBIDDEN: 'Request refused',
  ROLE_FORBIDDEN: 'Not allowed',
  BILLING_SESSION_NOT_FOUND: 'Billing session not found',
  BILLING_SESSION_CLOSED: 'Billing session closed',
  PLAN_UNCHANGED: 'Nothing to change',
  EMAIL_VERIFICATION_INVALID: 'Verification link not usable',
  RATE_LIMITED: 'Too many attempts',
  VALIDATION_FAILED: 'Invalid request',
  platform_unavailable: 'Try again shortly',
};
const INVALID_REQUEST = 'Invalid request';

/** Errors on a page are pages too: the same status and message the API would give, as HTML. */
export function renderPageError(ctx: ControlPlaneContext, err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof DomainError) {
    if (err.code === 'platform_unavailable') request.log.error({ err }, 'datastore unavailable');
    let body = paragraph(err.message, 'error');
    if (err.code === 'SESSION_REQUIRED' && ctx.oidc) {
      // Sign-in comes back to this very page (a path on this site, which /auth/login accepts as return_to).
      const back = request.method === 'GET' ? request.url : '/';
      body += `<p><a href="${escapeHtml(`${API_PREFIX}/auth/login?return_to=${encodeURIComponent(back)}`)}">Sign in</a></p>`;
    }
    return sendPage(reply, ctx, err.status, TITLES[err.code] ?? 'Something went wrong', body);
  }
  const fe = err as FastifyError & { validation?: ErrorObject[]; validationContext?: string };
  if (fe.validation) {
    const { message } = describeValidationErrors(fe.validation, fe.validationContext ?? 'body');
    return sendPage(reply, ctx, 400, INVALID_REQUEST, paragraph(message, 'error'));
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return sendPage(reply, ctx, 415, 'Unsupported form', paragraph('send the form as application/x-www-form-urlencoded', 'error'));
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendPage(reply, ctx, 413, 'Form too large', paragraph(ERROR_CODES.PAYLOAD_TOO_LARGE.message, 'error'));
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return sendPage(reply, ctx, 400, INVALID_REQUEST, paragraph(fe.message, 'error'));
  }
  if (isDatastoreOutage(err)) {
    request.log.error({ err }, 'datastore unavailable');
    return sendPage(reply, ctx, 503, TITLES['platform_unavailable'] ?? INVALID_REQUEST, paragraph(ERROR_CODES.platform_unavailable.message, 'error'));
  }
  request.log.error({ err }, 'unhandled error');
  return sendPage(reply, ctx, 500, 'Something went wrong', paragraph(`${ERROR_CODES.INTERNAL.message} (request ${request.id})`, 'error'));
}
