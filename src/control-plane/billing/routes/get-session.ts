import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { BillingSessionParams, BillingSessionSchema, presentBillingSession } from '../schemas.js';
import { billingSessionFor } from '../service.js';

export default function getBillingSessionRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/billing/sessions/:id',
    {
      schema: {
        operationId: 'getBillingSession',
        tags: ['billing'],
        summary: 'One checkout, top-up or portal session (members of its org; anyone else gets 404)',
        description: 'A pending session past its expiry reads as `expired`.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: BillingSessionParams,
        response: { 200: BillingSessionSchema, ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'BILLING_SESSION_NOT_FOUND') },
      },
      config: { partnerScope: ['billing:manage', 'billing:read'] },
    },
    async (request) => {
      const { session } = await billingSessionFor(ctx, request.principal as SessionPrincipal, request.params.id, 'member', 'read billing sessions');
      return presentBillingSession(session);
    },
  );
}
