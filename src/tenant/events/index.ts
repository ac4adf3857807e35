import type { DomainRoutes } from '../routes.js';
import listWorkspaceEventsRoute from './routes/list-workspace.js';
import listEventsRoute from './routes/list.js';
import streamWorkspaceEventsRoute from './routes/workspace-stream.js';
import streamEventsRoute from './routes/stream.js';

export const eventsRoutes: DomainRoutes = {
  admin: [listEventsRoute, streamEventsRoute],
  adminBound: [listWorkspaceEventsRoute],
  workspace: [streamWorkspaceEventsRoute],
};
