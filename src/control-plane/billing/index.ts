import type { ControlPlaneDomainRoutes } from '../routes.js';
import { pageScope } from './pages.js';
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

/** The billing pages (tier `pages`: no API prefix, browser-facing), in a page scope of their own. */
const billingPages = pageScope([confirmPageRoute, confirmPageSubmitRoute, portalPageRoute, portalPageSwitchRoute]);

/** Billing on the built-in ledger: plans, invoices, checkout, portal, top-up and the confirmation pages. */
export const billingRoutes: ControlPlaneDomainRoutes = {
  public: [listPlansRoute],
  session: [listInvoicesRoute, checkoutRoute, portalRoute, topupRoute, getBillingSessionRoute, confirmBillingSessionRoute, cancelBillingSessionRoute],
  pages: [billingPages],
};
