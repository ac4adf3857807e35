import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { Slug } from '../../orgs/schemas.js';
import { TOPUP } from '../plans.js';
import { BillingSessionStarted, ReturnUrl, TopupCredits } from '../schemas.js';
import { startTopup } from '../service.js';

export const TopupRequest = Type.Object(
  {
    org_slug: Slug,
    credits: TopupCredits,
    success_url: Type.Optional(ReturnUrl),
    cancel_url: Type.Optional(ReturnUrl),
  },
  { additionalProperties: false },
);
export type TopupRequest = Static<typeof TopupRequest>;

export default function topupRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/topup',
    {
      schema: {
        operationId: 'createTopup',
        tags: ['billing'],
        summary: 'Start a credit top-up (org owners and admins)',
        description:
          `Buys ${TOPUP.min_credits}–${TOPUP.max_credits} credits at ${TOPUP.cents_per_credit} cent each. Answers \`{url, id}\` like a checkout; ` +
          'confirming adds exactly the credits to the balance (one ledger entry) and writes a paid invoice. The session expires after an hour.',
        security: [{ session: [] }, { partnerKey: [] }],
        body: TopupRequest,
        response: {
          200: BillingSessionStarted,
          ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORIGIN_FORBIDDEN', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN'),
        },
      },
      config: { partnerScope: 'billing:manage' },
    },
    async (request, reply) => {
      const opened = await startTopup(ctx, request.principal as SessionPrincipal, request.body, auditEventForReply(reply, 200));
      request.auditWritten = true;
      return { url: opened.url, id: opened.id };
    },
  );
}
