import type { ControlPlaneDomainRoutes } from '../routes.js';
import loginRoute from './routes/login.js';
import meRoute from './routes/me.js';
import signoutRoute from './routes/signout.js';
import signupRoute from './routes/signup.js';
import tenantMemberRoute from './routes/tenant-member.js';
import { acceptTermsRoute, termsStatusRoute } from './routes/terms.js';

export const identityRoutes: ControlPlaneDomainRoutes = {
  public: [signupRoute, loginRoute],
  session: [meRoute, signoutRoute, termsStatusRoute, acceptTermsRoute, tenantMemberRoute],
};
