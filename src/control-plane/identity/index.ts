import { pageScope } from '../billing/pages.js';
import type { ControlPlaneDomainRoutes } from '../routes.js';
import loginRoute from './routes/login.js';
import meRoute from './routes/me.js';
import oidcCallbackRoute from './routes/oidc-callback.js';
import oidcLoginRoute, { oidcSignupRoute } from './routes/oidc-login.js';
import signoutRoute from './routes/signout.js';
import signupRoute from './routes/signup.js';
import tenantMemberRoute from './routes/tenant-member.js';
import { acceptTermsRoute, termsStatusRoute } from './routes/terms.js';
import verifyEmailRoute from './routes/verify-email.js';
import confirmEmailPageRoute from './routes/confirm-email-page.js';
import confirmEmailPageSubmitRoute from './routes/confirm-email-page-submit.js';
import requestEmailVerificationRoute from './routes/verify-email-request.js';

export const identityRoutes: ControlPlaneDomainRoutes = {
  public: [signupRoute, loginRoute, oidcLoginRoute, oidcSignupRoute, oidcCallbackRoute],
  session: [meRoute, signoutRoute, termsStatusRoute, acceptTermsRoute, tenantMemberRoute, requestEmailVerificationRoute, verifyEmailRoute],
  // The page a verification link leads to (outside the API prefixes, like the billing pages).
  pages: [pageScope([confirmEmailPageRoute, confirmEmailPageSubmitRoute])],
};
