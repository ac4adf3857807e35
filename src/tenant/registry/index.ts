import type { DomainRoutes } from '../routes.js';
import heartbeatRoute from './routes/heartbeat.js';
import registerRuntimeRoute from './routes/register.js';

export const registryRoutes: DomainRoutes = {
  runtime: [registerRuntimeRoute, heartbeatRoute],
};
