import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { PLAN_IDS, type PlanId } from '../../db/schema.js';
import { SESSION_ERRORS } from '../../identity/routes/me.js';
import { PARTNER_KEY_ERRORS } from '../../partner-keys/errors.js';
import { requireOrgRole } from '../access.js';
import { literalUnion, SlugParams } from '../schemas.js';

export const OrgUsage = Type.Object({
  org_id: Type.String({ format: 'uuid' }),
  slug: Type.String(),
  plan: literalUnion<PlanId>(PLAN_IDS),
  credits_balance: Type.Integer(),
  plan_monthly_credits: Type.Integer(),
  overage_used_credits: Type.Integer(),
  overage_cap_credits: Type.Integer(),
  period_start: Type.String({ format: 'date-time', description: 'The first instant of the current calendar month (UTC).' }),
  credits_granted_this_period: Type.Integer({ description: 'Sum of positive ledger entries since period_start.' }),
  credits_used_this_period: Type.Integer({ description: 'Sum of negative ledger entries since period_start, as a positive number.' }),
});

export default function orgUsageRoute(app: App, ctx: ControlPlaneContext) {
  app.get(
    '/orgs/:slug/usage',
    {
      schema: {
        operationId: 'getOrgUsage',
        tags: ['orgs'],
        summary: 'An org’s plan, credit balance and this month’s credit movements (org admins; partner keys with `billing:read`)',
        description: 'Reference §2.2 (partner design doc): `GET /cp/orgs/:slug/usage`, scope `billing:read`.',
        security: [{ session: [] }, { partnerKey: [] }],
        params: SlugParams,
        response: { 200: OrgUsage, ...errorResponses(...SESSION_ERRORS, ...PARTNER_KEY_ERRORS, 'VALIDATION_FAILED', 'ORG_NOT_FOUND', 'ROLE_FORBIDDEN') },
      },
      config: { partnerScope: 'billing:read' },
    },
    async (request) => {
      const org = await requireOrgRole(ctx, request.principal, request.params.slug, 'admin', 'read billing usage');
      const now = new Date();
      const periodStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      const sums = await ctx.db
        .selectFrom('credit_ledger')
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<string>(eb.case().when('delta', '>', 0).then(eb.ref('delta')).else(0).end()), eb.val(0)).as('granted'),
          eb.fn.coalesce(eb.fn.sum<string>(eb.case().when('delta', '<', 0).then(eb.ref('delta')).else(0).end()), eb.val(0)).as('used'),
        ])
        .where('org_id', '=', org.id)
        .where('created_at', '>=', periodStart)
        .executeTakeFirstOrThrow();
      return {
        org_id: org.id,
        slug: org.slug,
        plan: org.plan,
        credits_balance: Number(org.credits_balance),
        plan_monthly_credits: Number(org.plan_monthly_credits),
        overage_used_credits: Number(org.overage_used_credits),
        overage_cap_credits: Number(org.overage_cap_credits),
        period_start: periodStart.toISOString(),
        credits_granted_this_period: Number(sums.granted),
        credits_used_this_period: -Number(sums.used),
      };
    },
  );
}
