import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { Slug } from '../../orgs/schemas.js';
import { BillingSessionStarted, PaidPlanSchema, ReturnUrl } from '../schemas.js';
import { startCheckout } from '../service.js';

export const CheckoutRequest = Type.Object(
  {
    org_slug: Slug,
    plan: PaidPlanSchema,
    success_url: ReturnUrl,
    cancel_url: ReturnUrl,
  },
  { additionalProperties: false },
);
export type CheckoutRequest = Static<typeof CheckoutRequest>;

export default function checkoutRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/checkout',
    {
      schema: {
        operationId: 'createCheckout',
        tags: ['billing'],
        summary: 'Start a plan checkout (org owners and admins)',
        description:
          'Answers `{url, id}`: send the browser to `url`, our confirmation page, where an org owner confirms (or POST /billing/sessions/:id/confirm). ' +
          'Confirming sets the plan, grants its monthly credits and writes a paid invoice; an org awaiting payment starts provisioning. ' +
          '`success_url` and `cancel_url` must be on this site or a tenant host. The org’s current plan is 409. The session expires after an hour.',
        security: [{ session: [] }, { partnerKey: [] }],
        body: CheckoutRequest,
        response: {
          200: BillingSessionStarted,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN', 'PLAN_UNCHANGED'),
        },
      },
      config: { partnerScope: 'billing:manage' },
    },
    async (request, reply) => {
      const opened = await startCheckout(ctx, request.principal as SessionPrincipal, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { url: opened.url, id: opened.id };
    },
  );
}
