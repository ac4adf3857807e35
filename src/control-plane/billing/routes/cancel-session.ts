import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { BillingSessionOutcome, BillingSessionParams } from '../schemas.js';
import { cancelBillingSession } from '../service.js';
import { EmptyBody } from './confirm-session.js';

export default function cancelBillingSessionRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/sessions/:id/cancel',
    {
      schema: {
        operationId: 'cancelBillingSession',
        tags: ['billing'],
        summary: 'Cancel a pending billing session (org owners only)',
        description: 'Nothing about the org changes. Answers `redirect_url` (the cancel_url) and the org. Completed, cancelled or expired is 409.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: BillingSessionParams,
        body: EmptyBody,
        response: {
          200: BillingSessionOutcome,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ROLE_FORBIDDEN', 'BILLING_SESSION_NOT_FOUND', 'BILLING_SESSION_CLOSED'),
        },
      },
      config: { partnerScope: 'billing:manage' },
    },
    async (request, reply) => {
      const outcome = await cancelBillingSession(ctx, request.principal as SessionPrincipal, request.params.id, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return outcome;
    },
  );
}
