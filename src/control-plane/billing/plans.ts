import type { PlanId } from '../db/schema.js';

/**
 * The plan catalogue (reference §2.3, as the reference console shows it). One credit is 1,000 LLM tokens, so the
 * Team plan's 5M tokens a month is 5,000 credits. Prices are flat per org per month, in US cents.
 */
export interface Plan {
  id: PlanId;
  label: string;
  price_cents: number;
  /** null = unlimited. */
  max_workspaces: number | null;
  monthly_credits: number;
  /** Credits granted once when an org starts on this plan (the free trial tail). */
  starting_credits: number;
  /** How far past zero usage may run, in credits; 0 = no overage. */
  overage_cap_credits: number;
}

export const PLANS: Record<PlanId, Plan> = {
  free: { id: 'free', label: 'Free', price_cents: 0, max_workspaces: 3, monthly_credits: 0, starting_credits: 500, overage_cap_credits: 0 },
  starter: { id: 'starter', label: 'Team', price_cents: 2900, max_workspaces: 10, monthly_credits: 5_000, starting_credits: 0, overage_cap_credits: 0 },
  pro: { id: 'pro', label: 'Growth', price_cents: 9900, max_workspaces: null, monthly_credits: 25_000, starting_credits: 0, overage_cap_credits: 10_000 },
};

export function isPaidPlan(plan: PlanId): boolean {
  return PLANS[plan].price_cents > 0;
}

/** The plans in the order a price list shows them (cheapest first). */
export const PLAN_ORDER: readonly PlanId[] = ['free', 'starter', 'pro'];

/**
 * Credit top-ups: whole credits, bought at a flat 1 cent each. The floor keeps a purchase worth an invoice; the
 * ceiling ($10,000) bounds what one click can charge.
 */
export const TOPUP = { min_credits: 100, max_credits: 1_000_000, cents_per_credit: 1 } as const;

export function topupPriceCents(credits: number): number {
  return credits * TOPUP.cents_per_credit;
}

/** Prices are in US cents; every plan and top-up is billed in this currency. */
export const BILLING_CURRENCY = 'usd';

/** `2900` → `$29.00`, `500000` → `$5,000.00`: how pages and invoice lines show an amount. */
export function formatCents(cents: number): string {
  const dollars = Math.floor(cents / 100).toLocaleString('en-US');
  return `$${dollars}.${String(cents % 100).padStart(2, '0')}`;
}
