import { Type, type Static } from 'typebox';
import { idPattern } from '../../core/ids.js';
import { BILLING_SESSION_KINDS, PLAN_IDS, type BillingSessionKind, type PlanId } from '../db/schema.js';
import { literalUnion, Organization } from '../orgs/schemas.js';
import { TOPUP } from './plans.js';
import type { BillingSession, Invoice } from './provider.js';
import { Text } from '../../core/http/input.js';

/**
 * A closed set of strings as one `enum` keyword, so a wrong value is reported with the field's own message
 * ("plan must be one of starter, pro") rather than once per alternative.
 */
export function stringEnum<T extends string>(values: readonly T[], options: Record<string, unknown> = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], 'x-error': `must be one of ${values.join(', ')}`, ...options });
}

/** The plans a checkout can buy; `free` is reached by a downgrade from the portal. */
export const PAID_PLAN_IDS = ['starter', 'pro'] as const satisfies readonly PlanId[];
export const PaidPlanSchema = stringEnum<(typeof PAID_PLAN_IDS)[number]>(PAID_PLAN_IDS);
/** Any plan: the portal can switch to each, a downgrade to free included. */
export const AnyPlanSchema = stringEnum<PlanId>(PLAN_IDS);

/**
 * A page to send the browser back to. Only targets on this site or a tenant host pass (checked with safeReturnTo
 * in the service; the message names the field); the schema bounds the size.
 */
export const ReturnUrl = Text({ minLength: 1, maxLength: 2048, description: 'A path on this site, or an absolute URL on it or on a tenant host (`*.<TENANT_DOMAIN>`).' });

export const TopupCredits = Type.Integer({
  minimum: TOPUP.min_credits,
  maximum: TOPUP.max_credits,
  'x-error': `must be a whole number of credits from ${TOPUP.min_credits} to ${TOPUP.max_credits}`,
  description: `Credits to buy, at ${TOPUP.cents_per_credit} cent each.`,
});

export const BillingSessionId = Type.String({ pattern: idPattern('billingSession'), 'x-error': 'must be a billing session id (bs_…)' });
export const BillingSessionParams = Type.Object({ id: BillingSessionId });

export const PlanInfo = Type.Object(
  {
    id: literalUnion<PlanId>(PLAN_IDS),
    label: Type.String(),
    price_cents: Type.Integer({ description: 'Flat price per org per month, in US cents.' }),
    currency: Type.String(),
    interval: Type.Literal('month'),
    max_workspaces: Type.Union([Type.Integer(), Type.Null()], { description: 'null = unlimited.' }),
    monthly_credits: Type.Integer({ description: 'Credits granted each time the plan is paid for (1 credit = 1,000 LLM tokens).' }),
    starting_credits: Type.Integer({ description: 'Credits granted once when an org starts on this plan.' }),
    overage_cap_credits: Type.Integer({ description: 'How far past zero usage may run, in credits; 0 = no overage.' }),
  },
  { $id: 'BillingPlan', title: 'BillingPlan' },
);


export const InvoiceLineSchema = Type.Object({
  description: Type.String(),
  quantity: Type.Integer(),
  amount_cents: Type.Integer({ description: 'The line total, in cents.' }),
});

export const InvoiceSchema = Type.Object(
  {
    id: Type.String(),
    org_slug: Type.String(),
    number: Type.String({ description: 'Per-org sequence: `<SLUG>-0001`, `<SLUG>-0002`, …' }),
    description: Type.String(),
    amount_cents: Type.Integer(),
    currency: Type.String(),
    status: literalUnion<'paid' | 'open' | 'void'>(['paid', 'open', 'void']),
    lines: Type.Array(InvoiceLineSchema),
    created_at: Type.String({ format: 'date-time' }),
    paid_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'Invoice', title: 'Invoice' },
);
export type InvoiceBody = Static<typeof InvoiceSchema>;

export const BillingSessionSchema = Type.Object(
  {
    id: Type.String(),
    kind: literalUnion<BillingSessionKind>(BILLING_SESSION_KINDS),
    org_slug: Type.String(),
    plan: Type.Union([literalUnion<PlanId>(PLAN_IDS), Type.Null()], { description: 'The plan a checkout moves the org to.' }),
    credits: Type.Union([Type.Integer(), Type.Null()], { description: 'Credits a top-up buys, or the monthly grant of a checkout’s plan.' }),
    amount_cents: Type.Union([Type.Integer(), Type.Null()], { description: 'What confirming charges; null for a portal session.' }),
    currency: Type.String(),
    status: literalUnion<BillingSession['status']>(['pending', 'completed', 'cancelled', 'expired']),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
    completed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it was completed or cancelled.' }),
  },
  { $id: 'BillingSession', title: 'BillingSession' },
);
export type BillingSessionBody = Static<typeof BillingSessionSchema>;

/** A checkout or top-up: where to send the browser, and the session to follow up on. */
export const BillingSessionStarted = Type.Object({
  url: Type.String({ description: 'Send the browser here: our confirmation page, where an org owner confirms.' }),
  id: Type.String({ description: 'The billing session id (`bs_…`); GET /billing/sessions/:id follows it.' }),
});

export const BillingSessionOutcome = Type.Object({
  status: literalUnion<'completed' | 'cancelled'>(['completed', 'cancelled']),
  redirect_url: Type.Union([Type.String(), Type.Null()], { description: 'success_url after a confirm, cancel_url after a cancel (absolute); null when none was given.' }),
  organization: Organization,
});
export type BillingSessionOutcome = Static<typeof BillingSessionOutcome>;

const iso = (d: Date) => d.toISOString();

export function presentInvoice(invoice: Invoice): InvoiceBody {
  return {
    id: invoice.id,
    org_slug: invoice.orgSlug,
    number: invoice.number,
    description: invoice.description,
    amount_cents: invoice.amountCents,
    currency: invoice.currency,
    status: invoice.status,
    lines: invoice.lines,
    created_at: iso(invoice.createdAt),
    paid_at: invoice.paidAt ? iso(invoice.paidAt) : null,
  };
}

export function presentBillingSession(session: BillingSession): BillingSessionBody {
  return {
    id: session.id,
    kind: session.kind,
    org_slug: session.orgSlug,
    plan: session.plan,
    credits: session.credits,
    amount_cents: session.amountCents,
    currency: session.currency,
    status: session.status,
    created_at: iso(session.createdAt),
    expires_at: iso(session.expiresAt),
    completed_at: session.completedAt ? iso(session.completedAt) : null,
  };
}
