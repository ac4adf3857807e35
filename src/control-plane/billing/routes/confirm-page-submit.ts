import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import type { ControlPlaneContext } from '../../context.js';
import { assertSameSiteForm, PageParams, pagePrincipal } from '../pages.js';
import { stringEnum } from '../schemas.js';
import { cancelBillingSession, confirmBillingSession } from '../service.js';

export const ConfirmPageForm = Type.Object(
  { decision: stringEnum<'confirm' | 'cancel'>(['confirm', 'cancel'], { 'x-error': 'must be confirm or cancel' }) },
  { additionalProperties: false },
);
export type ConfirmPageForm = Static<typeof ConfirmPageForm>;

/**
 * The confirmation page's form: the same service calls as POST /billing/sessions/:id/confirm and …/cancel, then
 * 303 to the session's success_url (or cancel_url); without one, back to this page, which shows the outcome.
 */
export default function confirmPageSubmitRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/confirm/:id',
    {
      schema: {
        hide: true,
        operationId: 'billingConfirmPageSubmit',
        tags: ['billing'],
        summary: 'HTML form: confirm or cancel a checkout or top-up (org owners only)',
        params: PageParams,
        body: ConfirmPageForm,
      },
    },
    async (request, reply) => {
      const principal = await pagePrincipal(ctx, request);
      assertSameSiteForm(ctx, request);
      const id = request.params.id;
      const audit = auditEventForReply(reply, 303);
      const outcome =
        request.body.decision === 'confirm'
          ? await confirmBillingSession(ctx, principal, id, audit)
          : await cancelBillingSession(ctx, principal, id, audit);
      request.auditWritten = true;
      return reply.redirect(outcome.redirect_url ?? `/billing/confirm/${encodeURIComponent(id)}`, 303);
    },
  );
}
