import type { ControlPlaneDomainRoutes } from '../routes.js';
import loginRoute from './routes/login.js';
import meRoute from './routes/me.js';
import oidcCallbackRoute from './routes/oidc-callback.js';
import oidcLoginRoute, { oidcSignupRoute } from './routes/oidc-login.js';
import signoutRoute from './routes/signout.js';
import signupRoute from './routes/signup.js';
import tenantMemberRoute from './routes/tenant-member.js';
import { acceptTermsRoute, termsStatusRoute } from './routes/terms.js';

export const identityRoutes: ControlPlaneDomainRoutes = {
  public: [signupRoute, loginRoute, oidcLoginRoute, oidcSignupRoute, oidcCallbackRoute],
  session: [meRoute, signoutRoute, termsStatusRoute, acceptTermsRoute, tenantMemberRoute],
};
