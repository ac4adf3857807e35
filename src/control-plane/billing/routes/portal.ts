import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { Slug } from '../../orgs/schemas.js';
import { BillingSessionStarted, ReturnUrl } from '../schemas.js';
import { openPortal } from '../service.js';

export const PortalRequest = Type.Object(
  {
    org_slug: Slug,
    return_url: ReturnUrl,
  },
  { additionalProperties: false },
);
export type PortalRequest = Static<typeof PortalRequest>;

export default function portalRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/portal',
    {
      schema: {
        operationId: 'createPortalSession',
        tags: ['billing'],
        summary: 'Open the billing portal (org owners and admins)',
        description:
          'Answers `{url}` (and the session `id`): our portal page showing the plan, credit balance, recent ledger and invoices, with a link back to `return_url`. ' +
          'Plan switches chosen there (a downgrade to free included) go through the same confirmation page as a checkout. The link expires after an hour.',
        security: [{ session: [] }, { partnerKey: [] }],
        body: PortalRequest,
        response: {
          200: BillingSessionStarted,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN'),
        },
      },
      config: { partnerScope: 'billing:manage' },
    },
    async (request, reply) => {
      const opened = await openPortal(ctx, request.principal as SessionPrincipal, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { url: opened.url, id: opened.id };
    },
  );
}
