import type { ControlPlaneDomainRoutes } from '../routes.js';

/** Billing on the built-in ledger: invoices, checkout, portal, top-up and the confirmation pages. */
export const billingRoutes: ControlPlaneDomainRoutes = {};
