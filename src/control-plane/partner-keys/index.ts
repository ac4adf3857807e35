import type { ControlPlaneDomainRoutes } from '../routes.js';
import getPartnerKeyRoute from './routes/get.js';
import listPartnerKeysRoute from './routes/list.js';
import mintPartnerKeyRoute from './routes/mint.js';
import revokePartnerKeyRoute from './routes/revoke.js';

/**
 * Partner API keys (issue 12, reference §3.6): mounted in the admin tier (the CP admin bearer), where each route also
 * takes a partner key by its `partnerScope` config (see auth/hooks.ts). The org routes a key reaches carry their own
 * `partnerScope` in orgs/ (and billing/); scopes.ts has the table.
 */
export const partnerKeyRoutes: ControlPlaneDomainRoutes = {
  admin: [mintPartnerKeyRoute, listPartnerKeysRoute, getPartnerKeyRoute, revokePartnerKeyRoute],
};
