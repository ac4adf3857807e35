import type { ControlPlaneDomainRoutes } from '../routes.js';

/** Members and invitations: GET/PATCH/DELETE /orgs/:slug/members…, invitations and their acceptance. */
export const membersRoutes: ControlPlaneDomainRoutes = {};
