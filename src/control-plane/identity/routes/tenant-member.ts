import { Type } from 'typebox';
import { ValidationError } from '../../../core/errors.js';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import { UUID_PATTERN } from '../../../core/ids.js';
import type { SessionPrincipal } from '../../auth/authenticator.js';
import type { ControlPlaneContext } from '../../context.js';
import { MemberRoleSchema, Slug } from '../../orgs/schemas.js';
import { findMembership } from '../../orgs/store.js';
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
          'Tenants forward the browser’s session cookie here and cache the answer (30 s positive, 5 s negative). Ask by `org_id` (what tenants do: ' +
          'a slug is reused once its org is deleted, an id never is) or by `slug` (the reference form); with both, they must name the same org. ' +
          'Members get `{member:true, user_id, role, org_id, slug}` — a tenant accepts the answer only when `org_id` is its own; anyone else ' +
          '`{member:false}`, the same for an unknown org, so it reveals nothing.',
        security: [{ session: [] }],
        querystring: Type.Object({
          org_id: Type.Optional(Type.String({ pattern: UUID_PATTERN, 'x-error': 'must be an org UUID', description: 'The org asked about (tenants send their MOLECULE_ORG_ID).' })),
          slug: Type.Optional(Slug),
        }),
        response: {
          200: Type.Union([
            Type.Object({
              member: Type.Literal(true),
              user_id: Type.String(),
              role: MemberRoleSchema,
              org_id: Type.String({ format: 'uuid', description: 'The org the answer is about; a tenant compares it with its own id.' }),
              slug: Type.String(),
            }),
            Type.Object({ member: Type.Literal(false) }),
          ]),
          ...errorResponses(...SESSION_ERRORS, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request) => {
      const principal = request.principal as SessionPrincipal;
      const { org_id: orgId, slug } = request.query;
      if (orgId === undefined && slug === undefined) {
        throw new ValidationError('org_id or slug is required', { field: 'org_id', fields: ['org_id', 'slug'] });
      }
      const membership = await findMembership(ctx.db, { id: orgId?.toLowerCase(), slug }, principal.userId);
      return membership
        ? { member: true as const, user_id: principal.userId, role: membership.role, org_id: membership.id, slug: membership.slug }
        : { member: false as const };
    },
  );
}
