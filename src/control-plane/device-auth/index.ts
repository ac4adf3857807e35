import { pageScope } from '../billing/pages.js';
import type { ControlPlaneDomainRoutes } from '../routes.js';
import deviceApproveRoute from './routes/device-approve.js';
import deviceCodeRoute from './routes/device-code.js';
import devicePageRoute from './routes/device-page.js';
import devicePageSubmitRoute from './routes/device-page-submit.js';
import devicePendingRoute from './routes/device-pending.js';
import deviceSignInRoute from './routes/device-sign-in.js';
import deviceTokenRoute from './routes/device-token.js';

/**
 * Device authorization for clients without a browser (issue 13; RFC 8628): the CLI asks for codes and polls for a
 * session (public API routes) while a signed-in user approves on the console's `/device` page (JSON routes below), or on
 * the no-JS form at `/device/form`. The page's sign-in form is the one page that takes no session: it makes one.
 */
export const deviceAuthRoutes: ControlPlaneDomainRoutes = {
  public: [deviceCodeRoute, deviceTokenRoute],
  // The console's /device page (an SPA page, see app.ts) asks and decides through these.
  session: [devicePendingRoute, deviceApproveRoute],
  pages: [pageScope([devicePageRoute, devicePageSubmitRoute, deviceSignInRoute])],
};
