import type { FastifyError } from 'fastify';
import type { App } from '../../core/http/app.js';
import type { ControlPlaneContext } from '../context.js';
import type { ControlPlaneDomainRoutes } from '../routes.js';
import { FORM_BODY_LIMIT, parseForm, renderPageError } from './pages.js';
import cancelBillingSessionRoute from './routes/cancel-session.js';
import checkoutRoute from './routes/checkout.js';
import confirmPageRoute from './routes/confirm-page.js';
import confirmPageSubmitRoute from './routes/confirm-page-submit.js';
import confirmBillingSessionRoute from './routes/confirm-session.js';
import getBillingSessionRoute from './routes/get-session.js';
import listInvoicesRoute from './routes/invoices.js';
import listPlansRoute from './routes/plans.js';
import portalPageRoute from './routes/portal-page.js';
import portalPageSwitchRoute from './routes/portal-page-switch.js';
import portalRoute from './routes/portal.js';
import topupRoute from './routes/topup.js';

/**
 * The billing pages (tier `pages`: no API prefix, browser-facing) live in a scope of their own, so the HTML form
 * parser and the HTML error pages apply to them and to nothing else. Each page authenticates the session cookie
 * itself and refuses a cross-site form post, as the session tier does for the API.
 */
function billingPages(app: App, ctx: ControlPlaneContext): void {
  void app.register(async (scope) => {
    // Forms only (and JSON, which every scope parses): a text/plain body is 415 here, not a string to validate.
    scope.removeContentTypeParser('text/plain');
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, raw, done) => {
      try {
        done(null, parseForm(typeof raw === 'string' ? raw : raw.toString('utf8')));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    scope.setErrorHandler((err: FastifyError | Error, request, reply) => renderPageError(ctx, err, request, reply));
    for (const register of [confirmPageRoute, confirmPageSubmitRoute, portalPageRoute, portalPageSwitchRoute]) register(scope as unknown as App, ctx);
  });
}

/** Billing on the built-in ledger: plans, invoices, checkout, portal, top-up and the confirmation pages. */
export const billingRoutes: ControlPlaneDomainRoutes = {
  public: [listPlansRoute],
  session: [listInvoicesRoute, checkoutRoute, portalRoute, topupRoute, getBillingSessionRoute, confirmBillingSessionRoute, cancelBillingSessionRoute],
  pages: [billingPages],
};
