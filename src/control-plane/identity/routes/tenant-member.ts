import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { MemberRoleSchema, Slug } from '../../orgs/schemas.js';
import { findMembershipBySlug } from '../../orgs/store.js';
import { SESSION_ERRORS } from './me.js';

export default function tenantMemberRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/auth/tenant-member',
    {
      schema: {
        operationId: 'checkTenantMember',
        tags: ['auth'],
        summary: 'Is the signed-in user a member of this org? (called by tenants, tier 1)',
        description:
          'Tenants forward the browser’s cookie here and cache the answer (30 s positive, 5 s negative). Members get `{member:true, user_id, role}`; anyone else `{member:false}` — the same for an unknown slug, so it reveals nothing.',
        security: [{ session: [] }],
        querystring: Type.Object({ slug: Slug }),
        response: {
          200: Type.Union([
            Type.Object({ member: Type.Literal(true), user_id: Type.String(), role: MemberRoleSchema }),
            Type.Object({ member: Type.Literal(false) }),
          ]),
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request) => {
      const principal = request.principal as SessionPrincipal;
      const membership = await findMembershipBySlug(ctx.db, request.query.slug, principal.userId);
      return membership ? { member: true as const, user_id: principal.userId, role: membership.role } : { member: false as const };
    },
  );
}
