import { Type, type Static } from 'typebox';
import { auditEventForReply } from '../../../core/audit/request.js';
import type { App } from '../../../core/http/app.js';
import type { ControlPlaneContext } from '../../context.js';
import { assertSameSiteForm, PageParams, pagePrincipal } from '../pages.js';
import { AnyPlanSchema } from '../schemas.js';
import { switchPlanFromPortal } from '../service.js';

export const PortalSwitchForm = Type.Object({ plan: AnyPlanSchema }, { additionalProperties: false });
export type PortalSwitchForm = Static<typeof PortalSwitchForm>;

/** A plan switch chosen on the portal page: opens a checkout (free included) and 303s to its confirmation page. */
export default function portalPageSwitchRoute(app: App, ctx: ControlPlaneContext) {
  app.post(
    '/billing/portal/:id',
    {
      schema: {
        hide: true,
        operationId: 'billingPortalPageSwitch',
        tags: ['billing'],
        summary: 'HTML form: choose another plan from the portal (org owners and admins; an owner confirms)',
        params: PageParams,
        body: PortalSwitchForm,
      },
    },
    async (request, reply) => {
      const principal = await pagePrincipal(ctx, request);
      assertSameSiteForm(ctx, request);
      const opened = await switchPlanFromPortal(ctx, principal, request.params.id, request.body.plan, auditEventForReply(reply, 303));
      request.auditWritten = true;
      return reply.redirect(opened.url, 303);
    },
  );
}
