import type { App } from '../../../core/http/app.js';
import type { ControlPlaneContext } from '../../context.js';
import { portalPageBody, sendPage } from '../html.js';
import { PageParams, pagePrincipal } from '../pages.js';
import { portalView } from '../service.js';

/** The page a portal `url` leads to: plan, balance, ledger and invoices, and plan switches (owners and admins). */
export default function portalPageRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/billing/portal/:id',
    {
      schema: {
        hide: true,
        operationId: 'billingPortalPage',
        tags: ['billing'],
        summary: 'HTML: the billing portal',
        params: PageParams,
      },
    },
    async (request, reply) => {
      const principal = await pagePrincipal(ctx, request);
      const { session, org, ledger, invoices } = await portalView(ctx, principal, request.params.id);
      return sendPage(reply, ctx, 200, `Billing for ${org.name}`, portalPageBody(session, org, ledger, invoices, session.status === 'pending'));
    },
  );
}
