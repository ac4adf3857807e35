import { Type } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { BillingSessionOutcome, BillingSessionParams } from '../schemas.js';
import { confirmBillingSession } from '../service.js';

/** Confirming takes no fields; a body, if sent, must be empty. */
export const EmptyBody = Type.Object({}, { additionalProperties: false });

export default function confirmBillingSessionRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/sessions/:id/confirm',
    {
      schema: {
        operationId: 'confirmBillingSession',
        tags: ['billing'],
        summary: 'Confirm a checkout or top-up (org owners only)',
        description:
          'Applies the change in one transaction: a checkout sets the plan, grants its monthly credits and writes a paid invoice (a downgrade to free only changes the plan); ' +
          'a top-up adds its credits and writes a paid invoice. An org awaiting payment that buys a paid plan starts provisioning. ' +
          'A session confirms at most once: completed, cancelled or expired is 409. Answers where to send the browser (`redirect_url`, the success_url) and the org.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: BillingSessionParams,
        body: EmptyBody,
        response: {
          200: BillingSessionOutcome,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ROLE_FORBIDDEN', 'BILLING_SESSION_NOT_FOUND', 'BILLING_SESSION_CLOSED', 'PLAN_UNCHANGED'),
        },
      },
      config: { partnerScope: 'billing:manage' },
    },
    async (request, reply) => {
      const outcome = await confirmBillingSession(ctx, request.principal as SessionPrincipal, request.params.id, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return outcome;
    },
  );
}
