import type { ControlPlaneDomainRoutes } from '../routes.js';
import acceptInvitationRoute from './routes/accept-invitation.js';
import inviteMemberRoute from './routes/invite.js';
import listInvitationsRoute from './routes/list-invitations.js';
import listMembersRoute from './routes/list.js';
import removeMemberRoute from './routes/remove.js';
import revokeInvitationRoute from './routes/revoke-invitation.js';
import updateMemberRoleRoute from './routes/update-role.js';

/** Members and invitations: GET/PATCH/DELETE /orgs/:slug/members…, invitations and their acceptance. */
export const membersRoutes: ControlPlaneDomainRoutes = {
  session: [listMembersRoute, inviteMemberRoute, listInvitationsRoute, revokeInvitationRoute, acceptInvitationRoute, updateMemberRoleRoute, removeMemberRoute],
};
