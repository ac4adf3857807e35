import type { DomainRoutes } from '../routes.js';
import createChannelRoute from './routes/create.js';
import deleteChannelRoute from './routes/delete.js';
import listChannelDeliveriesRoute from './routes/deliveries.js';
import listChannelsRoute from './routes/list.js';
import testChannelRoute from './routes/test.js';
import updateChannelRoute from './routes/update.js';

export { ChannelDelivery } from './delivery.js';
export { NetworkPolicy } from './network.js';

/**
 * Notification channels (issue 11 item 4): the admin chain, confined to the bound workspace. Not the workspace's own
 * token: an agent must not be able to silence or redirect the alerts humans get about its workspace.
 */
export const channelRoutes: DomainRoutes = {
  adminBound: [listChannelsRoute, createChannelRoute, updateChannelRoute, deleteChannelRoute, testChannelRoute, listChannelDeliveriesRoute],
};
