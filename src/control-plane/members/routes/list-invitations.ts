import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../../orgs/access.js';
import { SlugParams } from '../../orgs/schemas.js';
import { presentInvitation } from '../present.js';
import { InvitationList } from '../schemas.js';
import { listPendingInvitations } from '../store.js';

export default function listInvitationsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/members/invitations',
    {
      schema: {
        operationId: 'listInvitations',
        tags: ['members'],
        summary: 'Pending invitations, oldest first (owners and admins)',
        description: 'Pending = neither accepted, revoked nor expired. Shows each token’s prefix, never the token or its hash.',
        security: [{ session: [] }],
        params: SlugParams,
        response: { 200: InvitationList, ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN') },
      },
    },
    async (request) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'admin', 'list invitations');
      const invitations = (await listPendingInvitations(ctx.db, org.id, new Date())).map((row) => presentInvitation(row, org.slug));
      return { invitations, count: invitations.length };
    },
  );
}
