import { sql } from 'kysely';
import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { ADMIN_ERRORS } from '../errors.js';

/** Reference §2.4: a narrow, ops-safe row — no secrets and deliberately no top-level `status`. */
export const AdminOrgSummary = Type.Object({
  id: Type.String({ format: 'uuid' }),
  slug: Type.String(),
  name: Type.String(),
  plan: Type.String(),
  member_count: Type.Integer(),
  instance_status: Type.Union([Type.String(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export default function adminListOrgsRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/admin/orgs',
    {
      schema: {
        operationId: 'adminListOrgs',
        tags: ['admin'],
        summary: 'Every org, oldest first, in pages',
        security: [{ cpAdmin: [] }],
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
        }),
        response: {
          200: Type.Object({ limit: Type.Integer(), offset: Type.Integer(), orgs: Type.Array(AdminOrgSummary) }),
          ...errorResponses(...ADMIN_ERRORS, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request) => {
      const { limit = 100, offset = 0 } = request.query;
      const rows = await ctx.db
        .selectFrom('organizations as o')
        .leftJoin('org_instances as i', 'i.org_id', 'o.id')
        .select([
          'o.id',
          'o.slug',
          'o.name',
          'o.plan',
          'o.created_at',
          'o.updated_at',
          'i.status as instance_status',
          sql<string | null>`coalesce(i.last_error, o.last_error)`.as('last_error'),
          sql<string>`(select count(*) from org_members m where m.org_id = o.id)`.as('member_count'),
        ])
        .orderBy('o.created_at', 'asc')
        .orderBy('o.id', 'asc')
        .limit(limit)
        .offset(offset)
        .execute();
      return {
        limit,
        offset,
        orgs: rows.map((r) => ({
          ...r,
          member_count: Number(r.member_count),
          instance_status: r.instance_status ?? null,
          created_at: new Date(r.created_at).toISOString(),
          updated_at: new Date(r.updated_at).toISOString(),
        })),
      };
    },
  );
}
