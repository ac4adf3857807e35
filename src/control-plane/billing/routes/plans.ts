import { Type } from 'typebox';
import type { App } from '../../../core/http/app.js';
import { errorResponses } from '../../../core/http/responses.js';
import type { ControlPlaneContext } from '../../context.js';
import { BILLING_CURRENCY, PLAN_ORDER, PLANS } from '../plans.js';
import { PlanInfo } from '../schemas.js';

export const PlanCatalogue = Type.Array(PlanInfo);

export default function listPlansRoute(app: App, _ctx: ControlPlaneContext) {
  app.get(
    '/billing/plans',
    {
      schema: {
        operationId: 'listBillingPlans',
        tags: ['billing'],
        summary: 'The plan catalogue (public; a bare array, cheapest first)',
        description: 'Flat prices per org per month in US cents. Credits beyond a plan’s grant are bought with POST /billing/topup.',
        response: { 200: PlanCatalogue, ...errorResponses('INTERNAL') },
      },
    },
    async () => PLAN_ORDER.map((id) => ({ ...PLANS[id], currency: BILLING_CURRENCY, interval: 'month' as const })),
  );
}
