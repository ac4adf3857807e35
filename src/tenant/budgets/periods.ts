import { BUDGET_PERIODS, type BudgetLimits, type BudgetPeriod } from '../db/schema.js';

/**
 * The budget periods and their rolling windows (reference `budget_periods.go`, spec §3.5). Windows are trailing,
 * not calendar: "monthly" is the last 30 days, so there is no month-boundary reset to get wrong.
 * Each window is a Postgres interval literal; the spend query interpolates them as SQL, never as user input.
 */
export const BUDGET_PERIOD_WINDOWS: Readonly<Record<BudgetPeriod, string>> = {
  hourly: '1 hour',
  daily: '24 hours',
  weekly: '7 days',
  monthly: '30 days',
};

/** Ledger rows older than the largest window plus slack are never read; the recorder prunes them. */
export const SPEND_LEDGER_RETENTION = '35 days';

/** The cumulative spend a heartbeat may report is clamped to this ($10B in cents; reference registry handler). */
export const MAX_REPORTED_SPEND_CENTS = 1_000_000_000_000;

export type SpendByPeriod = Record<BudgetPeriod, number>;

export function isBudgetPeriod(value: string): value is BudgetPeriod {
  return (BUDGET_PERIODS as readonly string[]).includes(value);
}

/**
 * The stored `budget_limits` jsonb as a clean map: known periods with a non-negative integer only. Anything else
 * (a null, a negative, an unknown key) means "no limit", as in the reference's parseBudgetLimits.
 */
export function storedLimits(raw: unknown): BudgetLimits {
  const out: BudgetLimits = {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  for (const period of BUDGET_PERIODS) {
    const v = (raw as Record<string, unknown>)[period];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) out[period] = v;
  }
  return out;
}

export interface PeriodBudgetView {
  limit: number | null;
  spend: number;
  remaining: number | null;
}

export interface BudgetViewBody {
  periods: Record<BudgetPeriod, PeriodBudgetView>;
  budget_limit: number | null;
  monthly_spend: number;
  budget_remaining: number | null;
}

/**
 * The one response shape of GET and PATCH. `remaining` may go negative so callers see how far over a period is;
 * the legacy monthly fields mirror the monthly period for clients that predate multi-period budgets.
 */
export function budgetView(limits: BudgetLimits, spend: SpendByPeriod): BudgetViewBody {
  const periods = {} as Record<BudgetPeriod, PeriodBudgetView>;
  for (const period of BUDGET_PERIODS) {
    const limit = limits[period] ?? null;
    periods[period] = { limit, spend: spend[period], remaining: limit === null ? null : limit - spend[period] };
  }
  return {
    periods,
    budget_limit: periods.monthly.limit,
    monthly_spend: spend.monthly,
    budget_remaining: periods.monthly.remaining,
  };
}

/**
 * A reported cumulative spend as whole cents in 0..MAX_REPORTED_SPEND_CENTS. Fractions are truncated; a value that
 * is not a number at all counts as "nothing reported" (0).
 */
export function clampReportedSpend(cents: number): number {
  if (Number.isNaN(cents)) return 0;
  return Math.trunc(Math.min(Math.max(cents, 0), MAX_REPORTED_SPEND_CENTS));
}
