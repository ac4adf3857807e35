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
