import { DomainError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import type { ControlPlaneContext } from '../../context.js';
import { confirmPageBody, confirmTitle, sendPage } from '../html.js';
import { PageParams, pagePrincipal } from '../pages.js';
import { billingSessionFor } from '../service.js';

/** The page a checkout or top-up `url` leads to: what it changes and costs, and for an owner the confirm form. */
export default function confirmPageRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/billing/confirm/:id',
    {
      schema: {
        hide: true,
        operationId: 'billingConfirmPage',
        tags: ['billing'],
        summary: 'HTML: review and confirm a checkout or top-up',
        params: PageParams,
      },
    },
    async (request, reply) => {
      const principal = await pagePrincipal(ctx, request);
      const { session, org } = await billingSessionFor(ctx, principal, request.params.id, 'member', 'view billing sessions');
      if (session.kind === 'portal') throw new DomainError('BILLING_SESSION_NOT_FOUND', undefined, { id: session.id });
      return sendPage(reply, ctx, 200, confirmTitle(session), confirmPageBody(session, org, session.status === 'pending'));
    },
  );
}
