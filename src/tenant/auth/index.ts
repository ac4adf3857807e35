import type { DomainRoutes } from '../routes.js';
import { authSelfRoute } from './routes/self.js';

/** GET /auth/self authenticates in its handler (every credential class, each as itself), so it sits outside the tiers. */
export const authRoutes: DomainRoutes = {
  runtime: [authSelfRoute],
};
