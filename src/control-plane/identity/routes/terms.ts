import { Type } from 'typebox';
import { appendAuditEvents } from '../../../core/audit/chain.js';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { ValidationError } from '../../../core/errors.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { acceptTerms } from '../store.js';
import { SESSION_ERRORS } from './me.js';
import { Text } from '../../../core/http/input.js';

const TermsStatus = Type.Object({
  accepted: Type.Boolean({ description: 'True once the current version has been accepted.' }),
  version: Type.String({ description: 'The current terms version (TERMS_VERSION).' }),
  accepted_version: Type.Union([Type.String(), Type.Null()]),
});

export function termsStatusRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/auth/terms-status',
    {
      schema: {
        operationId: 'getTermsStatus',
        tags: ['auth'],
        summary: 'Whether the signed-in user accepted the current terms',
        security: [{ session: [] }],
        response: { 200: TermsStatus, ...errorResponses(...SESSION_ERRORS) },
      },
    },
    async (request) => {
      const { session } = request.principal as SessionPrincipal;
      return { accepted: session.termsVersion === ctx.config.TERMS_VERSION, version: ctx.config.TERMS_VERSION, accepted_version: session.termsVersion };
    },
  );
}

export function acceptTermsRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/auth/accept-terms',
    {
      schema: {
        operationId: 'acceptTerms',
        tags: ['auth'],
        summary: 'Accept the current terms of service',
        description: 'Creating an org answers 412 until this is done. `version`, when sent, must be the current one (so a stale page cannot accept terms it did not show).',
        security: [{ session: [] }],
        body: Type.Object({ version: Type.Optional(Text({ maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: TermsStatus, ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN') },
      },
    },
    async (request, reply) => {
      const { session } = request.principal as SessionPrincipal;
      const current = ctx.config.TERMS_VERSION;
      if (request.body.version !== undefined && request.body.version !== current) {
        throw new ValidationError(`version ${request.body.version} is not the current terms version (${current})`, { field: 'version', current_version: current });
      }
      const row = await ctx.db.transaction().execute(async (tx) => {
        const accepted = await acceptTerms(tx, session.userId, current);
        await appendAuditEvents(tx, [auditEventForReply(reply, 200)]);
        return accepted;
      });
      request.auditWritten = true;
      return { accepted: true, version: current, accepted_version: row.terms_version };
    },
  );
}
