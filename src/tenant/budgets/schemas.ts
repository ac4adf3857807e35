import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from '../../core/ids.js';
import { LLM_BILLING_MODES, type LlmBillingMode } from '../db/schema.js';

/**
 * Path params with the reference's own 400 wording. These routes also validate a body, so the route-wide
 * `validationError` override cannot be used (it would relabel body errors too); `x-error` keyed by keyword
 * words only the id's failure.
 */
const workspaceIdParams = (message: string) =>
  Type.Object({ id: Type.String({ pattern: UUID_PATTERN, description: 'Workspace UUID.', 'x-error': { pattern: message } }) });

/** The budget routes say `invalid workspace ID` (spec §3.5; the reference 500s here instead). */
export const BudgetWorkspaceParams = workspaceIdParams('invalid workspace ID');
/** The billing-mode routes say `invalid workspace id` (spec §3.6). */
export const BillingModeWorkspaceParams = workspaceIdParams('invalid workspace id');

const Cents = Type.Integer({ description: 'USD cents.' });
const NullableCents = Type.Union([Cents, Type.Null()]);

export const PeriodBudget = Type.Object({
  limit: Type.Union([Cents, Type.Null()], { description: 'The ceiling; null means no limit, 0 blocks all spend.' }),
  spend: Type.Integer({ description: 'Spend within the rolling window, USD cents.' }),
  remaining: Type.Union([Cents, Type.Null()], { description: 'limit − spend; negative when over; null without a limit.' }),
});

export const BudgetView = Type.Object({
  periods: Type.Object(
    { hourly: PeriodBudget, daily: PeriodBudget, weekly: PeriodBudget, monthly: PeriodBudget },
    { description: 'Rolling windows: 1 hour, 24 hours, 7 days, 30 days.' },
  ),
  budget_limit: Type.Union([Cents, Type.Null()], { description: 'Legacy: the monthly limit.' }),
  monthly_spend: Type.Integer({ description: 'Legacy: the monthly (30-day) spend.' }),
  budget_remaining: NullableCents,
});
export type BudgetView = Static<typeof BudgetView>;

export const LlmBillingModeSchema = Type.Unsafe<LlmBillingMode>(Type.Union(LLM_BILLING_MODES.map((m) => Type.Literal(m))));

export const LlmBillingModeView = Type.Object({
  workspace_id: Type.String({ format: 'uuid' }),
  resolved_mode: LlmBillingModeSchema,
  workspace_override: Type.Union([LlmBillingModeSchema, Type.Null()]),
  org_default: LlmBillingModeSchema,
  source: Type.Union([Type.Literal('workspace_override'), Type.Literal('org_default')]),
});
export type LlmBillingModeView = Static<typeof LlmBillingModeView>;
