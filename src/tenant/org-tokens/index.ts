import type { DomainRoutes } from '../routes.js';
import { getKeyPolicyRoute, putKeyPolicyRoute } from './routes/key-policy.js';
import listOrgTokensRoute from './routes/list.js';
import mintOrgTokenRoute from './routes/mint.js';
import revokeOrgTokenRoute from './routes/revoke.js';
import rotateOrgTokenRoute from './routes/rotate.js';

export const orgTokenRoutes: DomainRoutes = {
  admin: [mintOrgTokenRoute, listOrgTokensRoute, revokeOrgTokenRoute, rotateOrgTokenRoute, getKeyPolicyRoute, putKeyPolicyRoute],
};
