import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { requireOrgRole } from '../../orgs/access.js';
import { SlugParams } from '../../orgs/schemas.js';
import { listMembers } from '../../orgs/store.js';
import { presentMember } from '../present.js';
import { MemberList } from '../schemas.js';

export default function listMembersRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/members',
    {
      schema: {
        operationId: 'listMembers',
        tags: ['members'],
        summary: 'The org’s members with their roles, oldest first (any member; anyone else gets 404)',
        security: [{ session: [] }],
        params: SlugParams,
        response: { 200: MemberList, ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND') },
      },
    },
    async (request) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'member', 'list members');
      const members = (await listMembers(ctx.db, org.id)).map(presentMember);
      return { members, count: members.length };
    },
  );
}
